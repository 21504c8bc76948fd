package org.flexnbd.downstream;

import java.util.ArrayList;
import java.util.List;

/**
 * Bounds the payload held across all clients, and keeps a part of it for each client, so that one client's stalled
 * requests cannot stop another's.
 *
 * <p>Each client that {@link #join joins} is promised {@code guaranteed} bytes: while what it holds stays within
 * that, it never waits, whatever the others hold. Beyond its promise it borrows from what is left of the limit
 * after every client's promise (or its holdings, if larger) is counted. Since at most {@code clients} join and
 * {@code clients * guaranteed} is at most the limit less one maximum-sized request, a client holding nothing can
 * always take one maximum-sized request once the others are back within their promises, and a client that holds
 * nothing never waits for ever: borrowers give back as their replies are written, or as they are closed.
 * <p>
 * A client that has to wait is told when budget comes back, by whichever client gives it back: its loop then tries
 * again, instead of looking every millisecond.
 */
final class PayloadBudget {
    private final long limit;
    private final long guaranteed;
    /** The sum over the joined shares of max(held, guaranteed): what the limit is checked against. */
    private long committed;
    private long used;
    /** Shares told, once, the next time budget comes back. */
    private final List<Share> waiting = new ArrayList<>();

    /**
     * @param limit the payload held at most by all clients together
     * @param guaranteed what each client may hold without waiting for the others
     */
    PayloadBudget(long limit, long guaranteed) {
        if (limit <= 0 || guaranteed < 0 || guaranteed > limit) {
            throw new IllegalArgumentException("limit " + limit + ", guaranteed " + guaranteed);
        }
        this.limit = limit;
        this.guaranteed = guaranteed;
    }

    /** A budget of {@code bufferBytes} shared by {@code clients} plus one maximum-sized request. */
    static PayloadBudget forClients(long bufferBytes, int clients, long maxRequest) {
        return new PayloadBudget(bufferBytes + maxRequest, bufferBytes / Math.max(1, clients));
    }

    /** A new client's share; its promise counts against the limit until it {@link Share#leave leaves}. */
    synchronized Share join() {
        committed += guaranteed;
        return new Share();
    }

    synchronized long used() {
        return used;
    }

    long guaranteed() {
        return guaranteed;
    }

    long limit() {
        return limit;
    }

    /** Under the lock: what every waiting share is to be told now; they wait no more. */
    private List<Runnable> takeWaiting() {
        if (waiting.isEmpty()) {
            return List.of();
        }
        List<Runnable> due = new ArrayList<>(waiting.size());
        for (Share s : waiting) {
            due.add(s.whenRoom);
            s.whenRoom = null;
        }
        waiting.clear();
        return due;
    }

    /** One client's part of the budget. Not shared between clients; may be used from several threads. */
    final class Share {
        private long held;
        private boolean left;
        /** Run the next time budget comes back, while the share waits for it; null otherwise. */
        private Runnable whenRoom;

        /**
         * Takes {@code bytes} if that needs no wait. Otherwise false, and {@code whenRoom} is run once, on the thread
         * that gives budget back, the next time any comes back (it runs outside the budget's lock; the caller then
         * tries again). Asked again before that, it is told once, with the latest {@code whenRoom}.
         */
        boolean tryAcquire(long bytes, Runnable whenRoom) {
            synchronized (PayloadBudget.this) {
                if (fits(bytes)) {
                    take(bytes);
                    return true;
                }
                if (this.whenRoom == null) {
                    waiting.add(this);
                }
                this.whenRoom = whenRoom;
                return false;
            }
        }

        void release(long bytes) {
            if (bytes == 0) {
                return; // a FLUSH or a TRIM held none: nothing comes back, and nobody need look again
            }
            List<Runnable> due;
            synchronized (PayloadBudget.this) {
                long before = counted();
                held -= bytes;
                used -= bytes;
                committed += counted() - before;
                due = takeWaiting();
            }
            due.forEach(Runnable::run);
        }

        /** The client has gone: its promise is given back; what it still holds counts until released. */
        void leave() {
            List<Runnable> due;
            synchronized (PayloadBudget.this) {
                long before = counted();
                left = true;
                committed += counted() - before;
                if (whenRoom != null) {
                    waiting.remove(this);
                    whenRoom = null;
                }
                due = takeWaiting();
            }
            due.forEach(Runnable::run);
        }

        long held() {
            synchronized (PayloadBudget.this) {
                return held;
            }
        }

        private boolean fits(long bytes) {
            if (!left && held + bytes <= guaranteed) {
                return true; // within its promise, which committed already counts
            }
            // Nothing held by anyone: one request of any size passes, so that none can wait for ever.
            return used == 0 || committed - counted() + held + bytes <= limit;
        }

        private void take(long bytes) {
            long before = counted();
            held += bytes;
            used += bytes;
            committed += counted() - before;
        }

        /** What this share counts for against the limit. */
        private long counted() {
            return left ? held : Math.max(held, guaranteed);
        }
    }
}
