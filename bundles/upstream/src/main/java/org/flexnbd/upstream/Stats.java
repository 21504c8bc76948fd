package org.flexnbd.upstream;

import java.util.concurrent.atomic.AtomicLong;

/** Counters for management: reconnections, retransmissions, and the last failure. */
final class Stats {
    private final AtomicLong reconnects = new AtomicLong();
    private final AtomicLong retransmissions = new AtomicLong();
    private volatile String lastFailure = "";
    private volatile long lastFailureMillis;

    void reconnected(int resent) {
        reconnects.incrementAndGet();
        retransmissions.addAndGet(resent);
    }

    void failed(String why) {
        lastFailure = why;
        lastFailureMillis = System.currentTimeMillis();
    }

    long reconnects() {
        return reconnects.get();
    }

    long retransmissions() {
        return retransmissions.get();
    }

    String lastFailure() {
        return lastFailure;
    }

    long lastFailureMillis() {
        return lastFailureMillis;
    }
}
