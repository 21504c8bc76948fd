package org.flexnbd.downstream;

/**
 * How long a client has been in a read that must end within a limit: its handshake, or a WRITE's payload once the
 * header has come. Between requests a client may be idle as long as it likes; inside one of these it holds a place
 * or a share of the payload budget, so a client that stops (or sends a byte a second) must not hold it for ever.
 * The client's own thread starts and stops the clock; the watchdog reads it.
 */
final class ReadClock {
    /** What is being read, its start and its limit, replaced as a whole so the watchdog sees one consistent phase. */
    private record Phase(String what, long sinceNanos, long limitNanos) {
    }

    private volatile Phase phase;

    /** From now, {@code what} must be read within {@code limitNanos}; 0 or less: no limit. */
    void start(String what, long limitNanos) {
        phase = limitNanos > 0 ? new Phase(what, System.nanoTime(), limitNanos) : null;
    }

    void stop() {
        phase = null;
    }

    /** What has taken longer than its limit at {@code nowNanos}, with how long; null when nothing has. */
    String overdue(long nowNanos) {
        Phase p = phase;
        if (p == null) {
            return null;
        }
        long took = nowNanos - p.sinceNanos;
        return took > p.limitNanos ? p.what + " not complete after " + took / 1_000_000 + " ms" : null;
    }
}
