package org.flexnbd.downstream;

/**
 * Bounds the payload held across all clients. A request that would take the total past the limit waits until
 * replies free enough; one request is always let through when nothing is held, so a maximum-sized request cannot
 * wait for ever.
 */
final class PayloadBudget {
    private final long limit;
    private long used;

    PayloadBudget(long limit) {
        this.limit = limit;
    }

    /** Takes {@code bytes} if that needs no wait. */
    synchronized boolean tryAcquire(long bytes) {
        if (used > 0 && used + bytes > limit) {
            return false;
        }
        used += bytes;
        return true;
    }

    synchronized void acquire(long bytes) throws InterruptedException {
        while (used > 0 && used + bytes > limit) {
            wait();
        }
        used += bytes;
    }

    synchronized void release(long bytes) {
        used -= bytes;
        notifyAll();
    }

    synchronized long used() {
        return used;
    }
}
