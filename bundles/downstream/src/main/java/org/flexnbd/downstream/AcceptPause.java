package org.flexnbd.downstream;

/**
 * The pause after a failed accept: short at first (a failure may be one client's), doubling to a second while
 * failures follow each other, so that a lasting cause (no file descriptors left) costs neither a busy loop nor a
 * log line every few microseconds.
 */
final class AcceptPause {
    static final long FIRST_MILLIS = 50;
    static final long MAX_MILLIS = 1000;

    private long next = FIRST_MILLIS;

    long next() {
        long now = next;
        next = Math.min(MAX_MILLIS, next * 2);
        return now;
    }

    void reset() {
        next = FIRST_MILLIS;
    }
}
