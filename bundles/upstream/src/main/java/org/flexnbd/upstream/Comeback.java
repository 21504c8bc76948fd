package org.flexnbd.upstream;

import java.util.concurrent.TimeUnit;

/**
 * One link found the upstream again: the others, waiting out their back-off after failed attempts, try at once
 * instead of seconds later. Otherwise, after an outage, links that had backed off to the longest pause reached the
 * upstream up to that long after a new client's link had, and their clients' unanswered writes landed after writes
 * the new client made and flushed meanwhile (seen: 8 MiB a new client had written and flushed, overwritten 2.5 s
 * later by the writes of clients that died during the outage); through a storm of upstream kills some clients were
 * served ten times as often as others.
 */
final class Comeback {
    private long connections;

    /** A link is connected to the upstream, to the export its clients were given. */
    synchronized void connected() {
        connections++;
        notifyAll();
    }

    /** Taken before an attempt: {@link #pause} ends early only for a connection made after it. */
    synchronized long mark() {
        return connections;
    }

    /** Waits {@code millis}, or until a link connects after {@code mark} was taken. True when cut short. */
    synchronized boolean pause(long mark, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (connections == mark) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }
}
