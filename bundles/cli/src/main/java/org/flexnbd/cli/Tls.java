package org.flexnbd.cli;

import java.util.Optional;

/**
 * What the command line says about TLS on one end, each part empty when it says nothing (config/*.cfg then decides).
 *
 * @param mode off, on or require
 * @param certificates the certificates' folder, as an absolute path
 */
record Tls(Optional<String> mode, Optional<String> certificates) {
    static final Tls UNSAID = new Tls(Optional.empty(), Optional.empty());

    /** Whether the mode given asks for TLS (on or require). */
    boolean on() {
        return mode.filter(m -> !m.equals("off")).isPresent();
    }
}
