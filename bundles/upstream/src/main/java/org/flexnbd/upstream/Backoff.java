package org.flexnbd.upstream;

/** Pauses between reconnection attempts: none before the first, then doubling from 100 ms up to a ceiling. */
final class Backoff {
    private final long maxMillis;
    private long next;

    Backoff(long maxMillis) {
        this.maxMillis = maxMillis;
    }

    long nextDelayMillis() {
        long delay = next;
        next = next == 0 ? Math.min(100, maxMillis) : Math.min(next * 2, maxMillis);
        return delay;
    }

    void reset() {
        next = 0;
    }
}
