package org.flexnbd.protocol.tls;

import java.util.Locale;

/** How one side of the proxy takes TLS, in nbdkit's and libnbd's words. */
public enum TlsMode {
    /** Plain text only: STARTTLS is refused (client side) or never asked for (upstream side). */
    OFF,
    /** TLS when the other end wants it (client side) or offers it (upstream side); plain text otherwise. */
    ON,
    /** TLS or nothing. */
    REQUIRE;

    /** {@code off}, {@code on} or {@code require}, as the configuration spells them. */
    public static TlsMode parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("TLS mode '" + s + "': it is off, on or require");
        }
    }
}
