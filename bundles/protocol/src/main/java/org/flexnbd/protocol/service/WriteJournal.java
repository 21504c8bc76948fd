package org.flexnbd.protocol.service;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;

/**
 * Every write the upstream acknowledged and has not yet been asked to make durable: an upstream that advertises
 * FLUSH may keep acknowledged writes in a volatile cache, and one that crashes and comes back has lost them while
 * the client was told they were done. The journal keeps them (their pooled payloads retained, not copied) until a
 * FLUSH sent after them succeeds, and after an upstream loss they are written again, in the order they were
 * acknowledged, before anything else is sent. One per upstream, shared by every client's connection, so the
 * order is one across clients. It does no I/O.
 * <p>
 * A write with FUA is durable on its own, but it is journalled like the others while anything older is, since
 * replaying an older write to the same blocks after it would undo it; it leaves the journal as soon as nothing
 * older is left.
 */
public final class WriteJournal {

    private static final class Record {
        final long seq;
        final Request write;
        final long bytes;
        Object origin;
        /**
         * On the upstream's stable storage (a FUA write, or a FLUSH covered it), but kept while anything older is:
         * replayed after an older write to the same blocks, it must land after it again.
         */
        boolean durable;

        Record(long seq, Object origin, Request write) {
            this.seq = seq;
            this.origin = origin;
            this.write = write;
            this.bytes = Nbd.REQUEST_HEADER_LENGTH + write.payloadLength();
            this.durable = write.hasFlag(Nbd.CMD_FLAG_FUA);
        }
    }

    private final long limit;
    private final Runnable changed;
    private final ArrayDeque<Record> records = new ArrayDeque<>();
    private long lastSeq;
    private long bytes;
    private long epoch;
    private boolean replayDue;
    private boolean closed;
    /** Set when the upstream connector stops: whatever the journal holds is flushed, however little. */
    private boolean draining;
    /** Set when the upstream refused a FLUSH of the proxy's own: it cannot be emptied, so it keeps nothing. */
    private boolean givenUp;
    private Object replaying;
    private long replays;

    /**
     * @param limitBytes the most it holds (payloads and a header's worth each) before the proxy flushes on its own;
     *            0 switches it off
     * @param changed told, outside the journal's lock, whenever connections held back may go on
     */
    public WriteJournal(long limitBytes, Runnable changed) {
        this.limit = limitBytes;
        this.changed = changed;
    }

    public synchronized boolean isOn() {
        return on();
    }

    /** Under the lock. */
    private boolean on() {
        return limit > 0 && !givenUp;
    }

    /**
     * The upstream refused a FLUSH of the proxy's own (an error reply, not a lost connection): the journal could
     * never be emptied, and every client would wait. It lets go of everything and keeps nothing from now on; a
     * client's own FLUSH meets the same refusal, so the client learns that its writes are not made durable.
     */
    public void giveUp() {
        synchronized (this) {
            givenUp = true;
            replayDue = false;
            while (!records.isEmpty()) {
                drop();
            }
            notifyAll();
        }
        changed.run();
    }

    /** Whether {@code r} is a write the journal keeps once acknowledged. */
    public static boolean journals(Request r) {
        return r.type() == Nbd.CMD_WRITE || r.type() == Nbd.CMD_WRITE_ZEROES || r.type() == Nbd.CMD_TRIM;
    }

    /** What {@link #keep} did with an acknowledged write. */
    public enum Kept {
        /** Too late to be put in order: the caller must not pass the acknowledgement on. */
        TOO_LATE,
        /** Kept, or not needed (the journal is off, or a FUA write with nothing older). */
        KEPT,
        /**
         * Kept, and the journal is now half full or full: {@link #tellChanged} is due once the caller's locks are let
         * go.
         */
        KEPT_NOW_FULLER
    }

    /**
     * The upstream acknowledged {@code write} on {@code origin}, a connection of epoch {@code e}: kept, with its own
     * reference. False, keeping nothing, when the acknowledgement comes too late to be put in order: the epoch
     * ended (a loss was seen and a replay is due or done) or connections are held. The caller must then not pass
     * the acknowledgement on, but give its connection up, so that the write is sent again after the replay.
     */
    public boolean acknowledged(Object origin, long e, Request write) {
        Kept k = keep(origin, e, write);
        if (k == Kept.KEPT_NOW_FULLER) {
            tellChanged();
        }
        return k != Kept.TOO_LATE;
    }

    /**
     * As {@link #acknowledged}, for a caller that holds a client's ledger's lock so that the write's payload cannot
     * go meanwhile: it tells nobody, since those told take other ledgers' locks. On {@link Kept#KEPT_NOW_FULLER}
     * the caller calls {@link #tellChanged} once it holds no lock.
     */
    public Kept keep(Object origin, long e, Request write) {
        synchronized (this) {
            if (!on()) {
                return Kept.KEPT;
            }
            if (e != epoch || replayDue || replaying != null || closed) {
                return Kept.TOO_LATE;
            }
            if (records.isEmpty() && write.hasFlag(Nbd.CMD_FLAG_FUA)) {
                return Kept.KEPT; // durable, and nothing older to keep in order with
            }
            long before = bytes;
            Record r = new Record(++lastSeq, origin, write.retain());
            records.add(r);
            bytes += r.bytes;
            boolean fuller = (before < limit / 2 && bytes >= limit / 2) || (before < limit && bytes >= limit);
            return fuller ? Kept.KEPT_NOW_FULLER : Kept.KEPT;
        }
    }

    /** Half full: a connection flushes; full: the clients' writes wait too. */
    public void tellChanged() {
        changed.run();
    }

    /** Taken when a FLUSH is written: what it will cover once it succeeds. */
    public synchronized long mark() {
        return lastSeq;
    }

    /**
     * A FLUSH written at {@code mark} on a connection of {@code origin} succeeded: the writes acknowledged before it
     * are durable, and leave the journal from the oldest on, as far as nothing older is not. Without CAN_MULTI_CONN a
     * FLUSH covers only its own connection's writes: those of another stay until a FLUSH of that connection, and keep
     * the durable ones after them (a replay must write them again after it).
     */
    public void flushed(Object origin, long mark, boolean multiConn) {
        boolean wake;
        synchronized (this) {
            boolean wasFull = isFull();
            for (Record r : records) {
                if (r.seq > mark) {
                    break;
                }
                if (multiConn || r.origin == origin) {
                    r.durable = true;
                }
            }
            Record r;
            while ((r = records.peek()) != null && r.durable) {
                drop();
            }
            notifyAll();
            // Still half full: the connection whose own FLUSH this was may (must) send the next one, and its writer
            // waits to be told. Without that wake, writes acknowledged after the FLUSH was sent kept the journal full,
            // nobody flushed again, and every client's writes were held for good (4 clients, bench memory section).
            wake = (wasFull && !isFull()) || wantsFlush();
        }
        // Otherwise only the end of "full" changes what a connection may do: waking every link on each FLUSH cost a
        // context switch per FLUSH, several per cent of the CPU with a FLUSH every few 4 KiB writes.
        if (wake) {
            changed.run();
        }
    }

    private void drop() {
        Record r = records.poll();
        bytes -= r.bytes;
        r.write.release();
    }

    /**
     * Half full: the proxy sends a FLUSH of its own, early enough that it normally succeeds before the journal is
     * full and anything has to wait.
     */
    public synchronized boolean wantsFlush() {
        return on() && (bytes >= limit / 2 || (draining && !records.isEmpty()));
    }

    /**
     * The upstream connector stops (the proxy stops, its configuration changed, its bundle is updated) and the
     * journal goes with it: a FLUSH of the proxy's own makes what it holds durable first. Waits at most
     * {@code millis} for that; returns whether the journal is empty.
     */
    public boolean drain(long millis) throws InterruptedException {
        synchronized (this) {
            draining = true;
        }
        changed.run();
        long deadline = System.currentTimeMillis() + millis;
        synchronized (this) {
            while (!records.isEmpty() && on()) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    break;
                }
                wait(left);
            }
            return records.isEmpty();
        }
    }

    /**
     * Whether writes acknowledged on {@code origin}'s connection wait for a FLUSH on it: without CAN_MULTI_CONN only
     * that connection's FLUSH makes them durable, so it must not end quietly before one has.
     */
    public synchronized boolean awaitsFlushOf(Object origin) {
        if (!on() || replayDue || replaying != null) {
            return false; // a replay writes them again, on the connection that will own them
        }
        for (Record r : records) {
            if (r.origin == origin && !r.durable) {
                return true;
            }
        }
        return false;
    }

    /** Full: the clients' writes wait until the proxy's own FLUSH has succeeded. */
    public synchronized boolean isFull() {
        return on() && bytes >= limit;
    }

    // ---- after a loss

    /** The epoch a connection starts in: a loss in it makes every connection of it replaceable. */
    public synchronized long epoch() {
        return epoch;
    }

    /**
     * A connection of epoch {@code e} was lost, or a connection attempt failed: the upstream may have lost what it
     * acknowledged. Returns true (once per epoch) when every connection of that epoch must be replaced, so that
     * nothing is sent until the journal has been written again, in order, by one of them; acknowledgements still
     * read on them are refused ({@link #acknowledged}). Even an empty journal starts a new epoch: a reader may
     * still be about to record what it read before the loss.
     */
    public synchronized boolean lost(long e) {
        if (!on() || e != epoch) {
            return false;
        }
        epoch++;
        replayDue = true;
        return true;
    }

    /** Whether connections must hold back everything: a replay is due or under way. */
    public synchronized boolean holding() {
        return replayDue || replaying != null;
    }

    /**
     * The replay, for {@code replayer} alone: every write in the journal, in order, each with one more reference for
     * the caller; null when none is due or another connection has it.
     */
    public synchronized List<Request> beginReplay(Object replayer) {
        if (!replayDue || replaying != null) {
            return null;
        }
        replaying = replayer;
        List<Request> all = new ArrayList<>(records.size());
        for (Record r : records) {
            all.add(r.write.retain());
        }
        return all;
    }

    /**
     * The replay ended; when {@code ok}, the journal's writes are on the upstream again, through {@code replayer}'s
     * connection (which a FLUSH must now cover them on). Otherwise the next connection made replays.
     */
    public void replayEnded(Object replayer, boolean ok) {
        synchronized (this) {
            if (replaying != replayer) {
                return;
            }
            replaying = null;
            if (ok) {
                replayDue = false;
                replays++;
                for (Record r : records) {
                    r.origin = replayer;
                    r.durable = r.write.hasFlag(Nbd.CMD_FLAG_FUA); // written again: durable once a FLUSH says so
                }
                while (!on() && !records.isEmpty()) {
                    drop(); // adopted with the journal off: written again, as durable as any write now
                }
            }
            notifyAll();
        }
        changed.run();
    }

    // ---- from one connector to the next

    /**
     * The connector stops (its configuration changed, its bundle is updated) with writes a FLUSH of its own could not
     * make durable, the upstream being down: they go to the caller, in order, each with the journal's reference, to
     * be handed to the next connector ({@link #adopt}), since the upstream may still lose them. Leaves it empty.
     */
    public List<Request> handOver() {
        List<Request> all = new ArrayList<>();
        synchronized (this) {
            Record r;
            while ((r = records.poll()) != null) {
                bytes -= r.bytes;
                all.add(r.write);
            }
            notifyAll();
        }
        changed.run();
        return all;
    }

    /**
     * The writes the connector before this one handed over ({@link #handOver}), in their order, with their
     * references: they are older than anything this journal holds, so they go ahead of it, and everything is written
     * again, as after a loss, before any connection sends anything. Every write is numbered anew, after every mark
     * already taken: a FLUSH written before now covers none of them. Returns the epoch that ended, whose connections
     * must be replaced; -1 when there was nothing to adopt. With the journal off they are written all the same, then
     * let go.
     */
    public synchronized long adopt(List<Request> writes) {
        if (writes.isEmpty()) {
            return -1;
        }
        List<Record> mine = new ArrayList<>(records);
        records.clear();
        for (Request w : writes) {
            Record r = new Record(++lastSeq, null, w);
            records.add(r);
            bytes += r.bytes;
        }
        for (Record r : mine) {
            records.add(new Record(++lastSeq, r.origin, r.write));
        }
        replayDue = true;
        return epoch++;
    }

    /** Waits, at most {@code millis}, while connections must hold back. */
    public synchronized void awaitRelease(long millis) throws InterruptedException {
        if (holding()) {
            wait(millis);
        }
    }

    /** The upstream service is going away: every payload goes back. */
    public synchronized void close() {
        closed = true;
        while (!records.isEmpty()) {
            drop();
        }
        notifyAll();
    }

    // ---- for management

    public synchronized int requests() {
        return records.size();
    }

    public synchronized long bytes() {
        return bytes;
    }

    public synchronized long replays() {
        return replays;
    }

}
