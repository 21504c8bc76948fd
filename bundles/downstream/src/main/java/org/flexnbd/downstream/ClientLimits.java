package org.flexnbd.downstream;

import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The time limits on one client, checked once: a value out of its range is logged and its default kept, so that a
 * typo in a configuration file cannot leave clients without a limit.
 */
final class ClientLimits {
    private static final Logger LOG = Logger.getLogger(ClientLimits.class.getName());
    /** The handshake's and a WRITE payload's limit at most. */
    static final int MAX_SECONDS = 3600;
    /** A reply's wait for the client at most: a day, as the upstream's timeout (the configuration check's range). */
    static final int MAX_CLIENT_SECONDS = 86_400;
    static final int HANDSHAKE_DEFAULT = 10;
    static final int PAYLOAD_DEFAULT = 30;
    static final int CLIENT_DEFAULT = 60;

    private final long handshakeNanos;
    private final long payloadNanos;
    private final long clientNanos;

    ClientLimits(int handshakeSeconds, int payloadSeconds, int clientSeconds) {
        this.handshakeNanos = seconds("handshakeTimeoutSeconds", handshakeSeconds, 1, MAX_SECONDS, HANDSHAKE_DEFAULT);
        this.payloadNanos = seconds("payloadTimeoutSeconds", payloadSeconds, 1, MAX_SECONDS, PAYLOAD_DEFAULT);
        this.clientNanos = seconds("clientTimeoutSeconds", clientSeconds, 0, MAX_CLIENT_SECONDS, CLIENT_DEFAULT);
    }

    static ClientLimits of(DownstreamConfig config) {
        return new ClientLimits(config.handshakeTimeoutSeconds(), config.payloadTimeoutSeconds(),
                config.clientTimeoutSeconds());
    }

    private static long seconds(String key, int value, int min, int max, int fallback) {
        if (value < min || value > max) {
            LOG.warning(key + "=" + value + " is out of range (" + min + " to " + max + "); using " + fallback);
            value = fallback;
        }
        return TimeUnit.SECONDS.toNanos(value);
    }

    /** From the hello to the end of option haggling. */
    long handshakeNanos() {
        return handshakeNanos;
    }

    /** From a WRITE's header to the last byte of its payload. */
    long payloadNanos() {
        return payloadNanos;
    }

    /** A reply waiting to be written to the client; 0: no limit. */
    long clientNanos() {
        return clientNanos;
    }

    /** How often the watchdog must look so that no limit is overrun by more than a quarter (at most a second). */
    long watchStepMillis() {
        long shortest = Math.min(handshakeNanos, payloadNanos);
        if (clientNanos > 0) {
            shortest = Math.min(shortest, clientNanos);
        }
        return Math.max(10, Math.min(1000, TimeUnit.NANOSECONDS.toMillis(shortest) / 4));
    }
}
