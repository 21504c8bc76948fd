package org.flexnbd.cli;

import java.util.Optional;

/**
 * What the command line says about TLS on one end, each part empty when it says nothing (config/*.cfg then decides).
 * An end authenticates with X.509 certificates or with a pre-shared key, never both.
 *
 * @param mode off, on or require
 * @param certificates the certificates' folder, as an absolute path
 * @param psk the pre-shared keys' file (psktool's {@code identity:hexkey} lines), as an absolute path
 * @param username the identity to use from the PSK file (the upstream only): empty string for its first one
 */
record Tls(Optional<String> mode, Optional<String> certificates, Optional<String> psk, Optional<String> username) {
    static final Tls UNSAID = new Tls(Optional.empty(), Optional.empty());

    /** Certificates, or nothing, and no pre-shared key. */
    Tls(Optional<String> mode, Optional<String> certificates) {
        this(mode, certificates, Optional.empty(), Optional.empty());
    }

    /** Whether the mode given asks for TLS (on or require). */
    boolean on() {
        return mode.filter(m -> !m.equals("off")).isPresent();
    }
}
