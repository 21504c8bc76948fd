package org.flexnbd.protocol.service;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;

/**
 * One client's requests, from the moment the client sent one until its reply is written back: the only place their
 * state is kept. It does no I/O; the I/O around it (a client's transmission, an upstream connection's writer and
 * reply pump, on the loop they share, and the link's connecting thread) asks it what to do next and tells it what
 * happened, under its one lock.
 * <p>
 * An upstream connection works for the ledger under a <em>generation</em> token from {@link #begin}.
 * Beginning a generation puts every request sent on an earlier one back in the queue, in the order the client sent
 * them, and from then on only the new generation may send, and replies read on an older one are dropped. A reconnect,
 * and a move to another upstream service (a hot update), are therefore the same event here.
 * <p>
 * The new generation sends nothing while an older one still owes replies and has not been {@link #forget forgotten}:
 * its server may still carry out a WRITE it read, after the copy sent again was answered and the client wrote the
 * same blocks anew. A reconnect forgets the old connection before it begins the next, once its server has closed it;
 * a move to another link begins first, and this <em>fence</em> holds the new generation until the old link's
 * connection has ended the same way.
 * <p>
 * Memory: an entry holds the client's request (and its pooled payload) until the reply is written or the client
 * has left; {@link #nextToSend(long)} hands out one more reference for the write. Every byte of payload budget
 * charged by {@link #admit} goes back through the {@code budget} given to the constructor, exactly once.
 */
public final class RequestLedger {

    /**
     * A reply ready for the client, with the reply's memory now the caller's. Hand it back through
     * {@link RequestLedger#written(Delivery)} once it is on the client's socket.
     *
     * @param asked the client's own request
     * @param sent what was sent upstream for it (a widened READ, or the request itself)
     * @param reply the upstream's complete reply to {@code sent}
     * @param generation the connection generation it was read on
     */
    public record Delivery(Request asked, Request sent, Reply reply, long generation) {
    }

    private enum State { QUEUED, SENT, ANSWERED, TAKEN }

    private static final class Entry {
        final Request asked;
        final Request sent;
        final long cost;
        State state = State.QUEUED;
        long generation;
        Reply reply;
        long replyBytes;

        Entry(Request asked, Request sent, long cost) {
            this.asked = asked;
            this.sent = sent;
            this.cost = cost;
        }
    }

    /**
     * What one upstream connection owes: the requests written on it and not answered on it, by cookie, as written
     * (a reply is decoded against them, even after the client has left or sent a cookie again elsewhere), and its
     * ESHUTDOWN. Once {@link #release released} it sends nothing more and answers nothing, and stays only while it
     * still owes replies, so that the connection can decode and drop them until it ends ({@link #forget}).
     */
    private static final class Generation {
        final Map<Long, Request> awaited = new HashMap<>();
        boolean refusing;
        boolean released;
    }

    private final LongConsumer budget;
    private final LinkedHashMap<Long, Entry> entries = new LinkedHashMap<>();
    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    private final ArrayDeque<Entry> answered = new ArrayDeque<>();
    /**
     * Replies the writer has taken and not yet said are written, by the client's request. Out of {@link #entries}:
     * once the bytes may have reached the client, it may reuse the cookie at once.
     */
    private final IdentityHashMap<Request, Entry> taken = new IdentityHashMap<>();
    private final Map<Long, Generation> generations = new HashMap<>();
    private long current;
    private long lastToken;
    private Request disconnect;
    private boolean closed;
    /** The current generation asked for something to send and the fence held it: it is told when the fence lifts. */
    private boolean fenceHeld;
    /** Tells the current generation's writer that it may send again; from {@link #begin}. */
    private Runnable onSendable = () -> { };
    /** The session the ledger moved to last: only it may begin a generation ({@link #claim}). */
    private Object holder;
    /** Payload bytes of replies answered and not yet written to the client. */
    private long unwritten;
    /** Set while the upstream's write journal is full: the client's WRITE data stays in its socket. */
    private boolean writesHeld;

    /** Told when replies have been answered, on the thread that read them: the client's writer. */
    private volatile Runnable onAnswered = () -> { };

    /** @param budget gives payload budget back: called with each admitted request's cost once it is done with */
    public RequestLedger(LongConsumer budget) {
        this.budget = budget;
    }

    /** {@code r} is told, outside the ledger's lock, whenever {@link #announce} says replies are waiting. */
    public void listen(Runnable r) {
        onAnswered = r;
    }

    /**
     * Replies were answered (or refused): the client's writer may have work. Called by the reader once for a
     * batch, so that the replies read in one turn are written in one system call.
     */
    public void announce() {
        onAnswered.run();
    }

    // ---- the client's reader

    /**
     * A new request from the client, queued to be sent. The ledger takes {@code asked}'s payload reference and
     * {@code cost} of budget; both go back even when the request is refused. Returns false, having given them back,
     * when the client has already left.
     *
     * @param sent what to send upstream for it: {@code asked} itself, or a widened READ without payload
     * @throws NbdException (fatal) when the client reuses a cookie still in flight
     */
    public synchronized boolean admit(Request asked, Request sent, long cost) throws NbdException {
        if (closed || entries.containsKey(asked.cookie())) {
            asked.release();
            budget.accept(cost);
            if (closed) {
                return false;
            }
            throw NbdException.fatal(String.format("cookie %016x reused while still in flight", asked.cookie()));
        }
        Entry e = new Entry(asked, sent, cost);
        entries.put(asked.cookie(), e);
        queue.add(e);
        return true;
    }

    /**
     * The client's DISCONNECT, to be passed upstream once nothing of the client's is in flight any more. It stays
     * here after the client has left, until a connection takes it ({@link #nextToSend}, {@link #takeDisconnect()}).
     */
    public synchronized void disconnect(Request disc) {
        disconnect = disc;
    }

    public synchronized boolean writesHeld() {
        return writesHeld;
    }

    /** Holds the client's writes back, or lets them go. */
    public synchronized void holdWrites(boolean hold) {
        if (writesHeld != hold) {
            writesHeld = hold;
        }
    }

    private boolean isEmpty() {
        return entries.isEmpty() && taken.isEmpty();
    }

    /** The client has gone: every payload, reply not yet taken, and charge goes back; nothing more is admitted. */
    public synchronized void clientLeft() {
        closed = true;
        List<Entry> all = new ArrayList<>(entries.values());
        all.addAll(taken.values());
        for (Entry e : all) {
            e.asked.release();
            if (e.reply != null) {
                e.reply.release();
                e.reply = null;
            }
            budget.accept(e.cost);
        }
        entries.clear();
        taken.clear();
        queue.clear();
        answered.clear();
        unwritten = 0;
    }

    // ---- an upstream connection

    /**
     * The client moves to {@code newHolder}'s upstream session (its first, or one of a newer service): from now on
     * only it may {@link #begin} a generation. A session it leaves may be reconnecting meanwhile, and must not take
     * the ledger back when its connection comes.
     */
    public synchronized void claim(Object newHolder) {
        holder = newHolder;
    }

    /**
     * A connection of {@code by}'s starts working for this ledger: its token, now the only one that may send; or -1
     * when {@code by} is not the session that {@link #claim claimed} the ledger last (null before any has), which
     * begins nothing. Everything sent on earlier generations and not answered is queued again, in the order the
     * client sent it. While an earlier generation still owes replies, the new one sends nothing; {@code sendable} is
     * told (outside the ledger's lock, on the thread that ended the wait) when it may.
     */
    public synchronized long begin(Object by, Runnable sendable) {
        if (by != holder) {
            return -1;
        }
        long g = ++lastToken;
        current = g;
        onSendable = sendable;
        fenceHeld = false;
        generations.put(g, new Generation());
        queue.clear();
        for (Entry e : entries.values()) {
            if (e.state == State.SENT) {
                e.state = State.QUEUED;
            }
            if (e.state == State.QUEUED) {
                queue.add(e);
            }
        }
        return g;
    }

    /** The current generation's token, 0 before the first: what read-ahead data was read under. */
    public synchronized long generation() {
        return current;
    }

    /** Requests waiting to be sent on the current generation: after {@link #begin()}, those to retransmit. */
    public synchronized int queued() {
        return queue.size();
    }

    /**
     * The next thing for generation {@code g} to write, or null: a queued request, now sent on {@code g}, with one
     * more payload reference that the caller releases once it is written; or, once nothing of the client's is in
     * flight, its DISCONNECT, after which the connection must end. Nothing while {@code g} is not current, has been
     * {@link #release released}, or the server has refused on it (ESHUTDOWN), nor while an older generation may still
     * carry out what it was sent (the fence: see the class).
     */
    public synchronized Request nextToSend(long g) {
        Generation gen = generations.get(g);
        if (g != current || gen == null || gen.refusing || gen.released) {
            return null;
        }
        if (olderOweReplies()) {
            fenceHeld = true;
            return null;
        }
        Entry e;
        while ((e = queue.poll()) != null) {
            if (e.state == State.QUEUED) {
                e.state = State.SENT;
                e.generation = g;
                gen.awaited.put(e.sent.cookie(), e.sent);
                return e.sent.retain();
            }
        }
        if (disconnect != null && isEmpty()) {
            Request d = disconnect;
            disconnect = null;
            return d;
        }
        return null;
    }

    /**
     * The request a reply read on {@code g} answers, for decoding and checking it: the one written on {@code g} and
     * not answered there yet, as it was written, even if the client has left since (its reply is then dropped, but
     * the connection must still read past it), or sent the cookie again on a newer generation. Null for anything
     * else (a second reply, a cookie never sent there, a generation forgotten).
     */
    public synchronized Request lookup(long g, long cookie) {
        Generation gen = generations.get(g);
        return gen == null ? null : gen.awaited.get(cookie);
    }

    /**
     * Sees an upstream's answer before the client can: the write journal keeps an acknowledged write first. It is
     * called under the ledger's lock, so that the request's payload cannot go meanwhile (the client may leave on
     * another thread); it must do no I/O and take no other ledger's lock.
     */
    @FunctionalInterface
    public interface Witness {
        /** False when the answer must not reach the client: the request stays sent and unanswered. */
        boolean saw(Request sent, Reply reply);
    }

    /** What became of a reply given to {@link #answered(long, Reply, Witness)}. */
    public enum Answer {
        /** It answers a request waiting for it; the client's writer will take it. */
        ANSWERED,
        /** Stale: the request was sent again on a newer generation, or the client left. */
        STALE,
        /** The witness held it back. */
        WITHHELD
    }

    /**
     * A complete reply read on {@code g}; the ledger takes its memory. True when it answers a request now waiting
     * for it, which the client's writer will then take; false when it is stale (the request was sent again on a
     * newer generation, or the client left), in which case it has been released.
     */
    public boolean answered(long g, Reply reply) {
        return answered(g, reply, null) == Answer.ANSWERED;
    }

    /**
     * As {@link #answered(long, Reply)}, with {@code witness} (if any) seeing each reply that answers a waiting
     * request before the client may. A reply not {@link Answer#ANSWERED} has been released.
     */
    public Answer answered(long g, Reply reply, Witness witness) {
        Answer a;
        Runnable wake;
        synchronized (this) {
            a = answer(g, reply, witness);
            wake = a == Answer.STALE ? liftedFence() : null;
        }
        if (wake != null) {
            wake.run();
        }
        return a;
    }

    private Answer answer(long g, Reply reply, Witness witness) {
        Generation gen = generations.get(g);
        Entry e = entries.get(reply.cookie());
        if (gen == null || gen.released || e == null || e.state != State.SENT || e.generation != g) {
            if (gen != null) {
                gen.awaited.remove(reply.cookie());
                settleIfReleased(g, gen);
            }
            reply.release();
            return Answer.STALE;
        }
        if (witness != null && !witness.saw(e.sent, reply)) {
            reply.release();
            return Answer.WITHHELD;
        }
        gen.awaited.remove(reply.cookie());
        e.state = State.ANSWERED;
        e.reply = reply;
        e.replyBytes = reply.payloadBytes();
        unwritten += e.replyBytes;
        answered.add(e);
        return Answer.ANSWERED;
    }

    /**
     * The server refused the request with ESHUTDOWN: it is queued again for the next connection, and nothing more is
     * sent on {@code g}. Once everything else written on {@code g} is answered, {@link #softDisconnect} says so.
     */
    public void refused(long g, long cookie) {
        Runnable wake;
        synchronized (this) {
            Generation gen = generations.get(g);
            if (gen == null) {
                return;
            }
            gen.refusing = true;
            gen.awaited.remove(cookie);
            settleIfReleased(g, gen);
            Entry e = entries.get(cookie);
            if (e != null && e.state == State.SENT && e.generation == g) {
                e.state = State.QUEUED; // the next begin() queues it, in its place
            }
            wake = liftedFence();
        }
        if (wake != null) {
            wake.run();
        }
    }

    public synchronized boolean isRefusing(long g) {
        Generation gen = generations.get(g);
        return gen != null && gen.refusing;
    }

    /**
     * After ESHUTDOWN, once everything written on {@code g} has been answered: the DISCONNECT that ends {@code g}
     * cleanly, as the spec asks; null before then. The client's own DISCONNECT, if one waits, stays for the next
     * connection.
     */
    public synchronized Request softDisconnect(long g) {
        Generation gen = generations.get(g);
        if (gen == null || !gen.refusing || !gen.awaited.isEmpty()) {
            return null;
        }
        return Request.of(Nbd.CMD_DISC, 0, 0, 0, 0);
    }

    /**
     * The DISCONNECT of a client that has left, not yet sent: the connection that worked for it last takes it, to
     * send before anything of the next client's. Null while the client is still here (it may only be moving to
     * another connection, which will send it).
     */
    public synchronized Request takeDisconnectOfDeparted() {
        if (!closed) {
            return null;
        }
        Request d = disconnect;
        disconnect = null;
        return d;
    }

    /** Whether a DISCONNECT of the client's waits to be sent. */
    public synchronized boolean hasDisconnect() {
        return disconnect != null;
    }

    /** Requests written on {@code g} and not answered there. */
    public synchronized int awaitedOn(long g) {
        Generation gen = generations.get(g);
        return gen == null ? 0 : gen.awaited.size();
    }

    /**
     * The connection of generation {@code g} stops working for this ledger (the client left, or moved to another
     * link): nothing more is sent or answered on {@code g}. Returns how many requests were written on it and not
     * answered. More than none means late replies may still come on it, so it must not serve anyone else; until it
     * ends ({@link #forget}) or they have all come, {@link #lookup} still decodes them, so that a late reply is
     * dropped and never taken for a protocol violation.
     */
    public synchronized int release(long g) {
        Generation gen = generations.get(g);
        if (gen == null) {
            return 0;
        }
        gen.released = true;
        if (g == current) {
            onSendable = () -> { }; // the link let go: it is not kept, nor its bundle, for a client staying
        }
        int owed = gen.awaited.size();
        settleIfReleased(g, gen);
        return owed;
    }

    /**
     * The connection of generation {@code g} has ended, fenced (its server closed it, or is gone): nothing more is read
     * on it, nothing it was sent can land any more, and the ledger forgets it.
     */
    public void forget(long g) {
        Runnable wake;
        synchronized (this) {
            generations.remove(g);
            wake = liftedFence();
        }
        if (wake != null) {
            wake.run();
        }
    }

    /** Whether a generation before the current one still owes replies: its server may still carry requests out. */
    private boolean olderOweReplies() {
        if (generations.size() < 2) {
            return false;
        }
        for (Map.Entry<Long, Generation> e : generations.entrySet()) {
            if (e.getKey() != current && !e.getValue().awaited.isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** Under the lock: the one to tell, outside it, when the fence held the current generation and holds no more. */
    private Runnable liftedFence() {
        if (!fenceHeld || olderOweReplies()) {
            return null;
        }
        fenceHeld = false;
        return onSendable;
    }

    private void settleIfReleased(long g, Generation gen) {
        if (gen.released && gen.awaited.isEmpty()) {
            generations.remove(g);
        }
    }

    /** Whether the client is slower than its upstream: more than {@code limit} bytes of replies wait for it. */
    public synchronized boolean isBacklogged(long limit) {
        return unwritten > limit;
    }

    // ---- the client's writer

    /** The next reply to write to the client, or null if none is ready. */
    public synchronized Delivery takeAnswered() {
        Entry e;
        while ((e = answered.poll()) != null) {
            if (e.state == State.ANSWERED) {
                e.state = State.TAKEN;
                entries.remove(e.asked.cookie());
                taken.put(e.asked, e);
                Reply r = e.reply;
                e.reply = null;
                return new Delivery(e.asked, e.sent, r, e.generation);
            }
        }
        return null;
    }

    /** The reply is on the client's socket: the request is done, its payload and budget go back. */
    public synchronized void written(Delivery d) {
        Entry e = taken.remove(d.asked());
        if (e == null) {
            return; // the client left meanwhile: already given back
        }
        e.asked.release();
        budget.accept(e.cost);
        unwritten -= e.replyBytes;

    }

    // ---- for management and the watchdogs

    /** Requests of the client without a written reply. */
    public synchronized int inFlight() {
        return entries.size() + taken.size();
    }

    /** Budget bytes held by requests in flight. */
    public synchronized long charged() {
        long charged = 0;
        for (Entry e : entries.values()) {
            charged += e.cost;
        }
        for (Entry e : taken.values()) {
            charged += e.cost;
        }
        return charged;
    }
}
