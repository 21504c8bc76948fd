package org.flexnbd.upstream;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.ProtocolViolation;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.UpstreamExport;

/**
 * One upstream connection slot, kept alive for ever: it connects, sends what it is given, hands complete replies to
 * the attached session, and when the connection is lost, it connects again and sends every request that has no
 * complete reply yet, in the order they were submitted. Its own thread connects and writes; a reader thread per
 * connection reads.
 * <p>
 * Payload memory: the pending table holds one reference to each request it holds, and a write holds another for as
 * long as it reads the payload, so pooled memory is reused only once no connection can still send it. A reply read
 * here goes, with its memory, to the session's handler; one that cannot be delivered is released here.
 */
final class UpstreamLink {
    private static final Logger LOG = Logger.getLogger(UpstreamLink.class.getName());
    /** Chunks of replies not yet DONE held at once: far more than any honest server's requests in flight need. */
    private static final long MAX_PARTIAL_BYTES = 4L * Nbd.MAX_PAYLOAD;

    private final String name;
    private final Supplier<Connector> connectors;
    private final ReferenceExport reference;
    private final Stats stats;
    private final long maxDelayMillis;
    private final Runnable onIdle;

    private final Object lock = new Object();
    private final LinkedHashMap<Long, Request> pending = new LinkedHashMap<>();
    private final ArrayDeque<Request> queue = new ArrayDeque<>();
    /** Held by whoever writes to the connection's output: the writer thread, or a submitting client thread. */
    private final ReentrantLock sending = new ReentrantLock();
    private Connection connection;
    private LinkSession session;
    private Request disconnect;
    private boolean closed;
    private volatile long generation;
    private final Thread thread;

    UpstreamLink(String name, Supplier<Connector> connectors, ReferenceExport reference, Stats stats, long maxDelayMillis,
            Connection first, Runnable onIdle) {
        this.name = name;
        this.connectors = connectors;
        this.reference = reference;
        this.stats = stats;
        this.maxDelayMillis = maxDelayMillis;
        this.onIdle = onIdle;
        Connection[] once = {first};
        this.thread = new Thread(new RestartingLoop(name, () -> {
            Connection c = once[0];
            once[0] = null; // a restart connects afresh
            run(c);
        }, this::dropAfterFailure, this::isClosed, 1000), name);
        thread.setDaemon(true);
        thread.start();
    }

    LinkSession attach(org.flexnbd.protocol.service.ReplyHandler handler) {
        synchronized (lock) {
            session = new LinkSession(this, handler);
            return session;
        }
    }

    /** The session's client has gone: late replies must not reach the next one. */
    void detach(LinkSession s) {
        synchronized (lock) {
            if (session != s) {
                return;
            }
            session = null;
            if (!pending.isEmpty()) {
                int n = pending.size();
                releasePending();
                if (connection != null) {
                    connection.fail("client left with " + n + " requests outstanding; replacing the connection", true);
                }
            }
        }
        onIdle.run();
    }

    /**
     * Records the request as outstanding and sends it: straight to the socket on the caller's thread when the
     * connection is up and nothing is queued before it (no hand-over to the writer thread on the common path),
     * otherwise through the queue.
     */
    void submit(LinkSession s, Request r, boolean more) {
        Connection c;
        synchronized (lock) {
            if (session != s) {
                return; // its client moved on; the client's own table still holds the request
            }
            if (pending.isEmpty() && connection != null) {
                connection.channel.touch(); // the timeout counts from when something is outstanding
            }
            Request replaced = pending.put(r.cookie(), r.retain());
            if (replaced != null) {
                replaced.release(); // the session resubmits what it still waits for after a switch
            }
            c = connection;
            if (c == null || c.isFailed() || c.isRefusing() || !queue.isEmpty() || disconnect != null) {
                enqueue(r);
                return;
            }
        }
        if (!sending.tryLock()) {
            synchronized (lock) {
                if (connection == c) { // else a reconnect has queued every pending request, this one too
                    enqueue(r);
                }
            }
            return;
        }
        try {
            synchronized (lock) {
                if (connection != c) {
                    return; // queued by the reconnect, as above
                }
                if (pending.get(r.cookie()) != r) {
                    return; // its client left, or it was answered, meanwhile: nothing to send
                }
                if (!queue.isEmpty() || c.isRefusing()) {
                    enqueue(r);
                    return;
                }
                c.sent(r.cookie());
                r.retain(); // for the write: the table may let go of the request meanwhile
            }
            try {
                RequestCodec.write(c.out, r);
            } finally {
                r.release();
            }
            if (!more) {
                c.out.flush();
            }
        } catch (IOException e) {
            c.fail("write failed: " + e.getMessage(), false);
        } finally {
            sending.unlock();
        }
    }

    private void enqueue(Request r) {
        queue.add(r);
        lock.notifyAll();
    }

    void flush(LinkSession s) {
        Connection c;
        synchronized (lock) {
            c = session == s ? connection : null;
        }
        if (c == null) {
            return;
        }
        sending.lock();
        try {
            c.out.flush();
        } catch (IOException e) {
            c.fail("write failed: " + e.getMessage(), false);
        } finally {
            sending.unlock();
        }
    }

    void disconnect(LinkSession s, Request disc) {
        synchronized (lock) {
            if (session == s) {
                disconnect = disc;
                lock.notifyAll();
            }
        }
    }

    /** Drops the connection; the requests in flight are sent again on the next one. */
    void reconnect(String why) {
        synchronized (lock) {
            if (connection != null) {
                connection.fail(why, false);
            }
        }
    }

    long connectionGeneration() {
        return generation;
    }

    int inFlight() {
        synchronized (lock) {
            return pending.size();
        }
    }

    boolean isConnected() {
        synchronized (lock) {
            return connection != null && !connection.isFailed();
        }
    }

    /** Called by the watchdog: gives the connection up when requests are outstanding and nothing moves. */
    void checkProgress(long nowNanos, long timeoutNanos) {
        synchronized (lock) {
            Connection c = connection;
            if (c == null || pending.isEmpty() || c.isDelivering()) {
                return;
            }
            long idle = nowNanos - c.channel.lastProgressNanos();
            if (idle > timeoutNanos) {
                c.fail("no progress for " + idle / 1_000_000_000L + " s with " + pending.size()
                        + " requests outstanding", false);
            }
        }
    }

    void close() {
        synchronized (lock) {
            // A DISCONNECT passed on by a stopping client goes out before the connection is closed.
            long deadline = System.currentTimeMillis() + 1000;
            while (disconnect != null && connection != null && !connection.isFailed()
                    && System.currentTimeMillis() < deadline) {
                try {
                    lock.wait(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            closed = true;
            if (connection != null) {
                connection.fail("stopping", true);
            }
            lock.notifyAll();
        }
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lock) {
            releasePending(); // the sessions keep their own hold: they resubmit to the next link
        }
    }

    /** Empties the pending table and the queue, giving back the table's hold on each request. Under the lock. */
    private void releasePending() {
        for (Request r : pending.values()) {
            r.release();
        }
        pending.clear();
        queue.clear();
    }

    private void run(Connection first) {
        Backoff backoff = new Backoff(maxDelayMillis);
        Connection next = first;
        boolean lost = false;
        int attempts = 0;
        while (!isClosed()) {
            Connector connector = connectors.get();
            if (next == null) {
                try {
                    Thread.sleep(backoff.nextDelayMillis());
                    attempts++;
                    next = connector.connect();
                } catch (InterruptedException | java.io.InterruptedIOException e) {
                    return;
                } catch (IOException e) {
                    if (isClosed()) {
                        return;
                    }
                    String why = e.getMessage() == null ? e.toString() : e.getMessage();
                    stats.failed("cannot reconnect to upstream " + connector.endpoint() + ": " + why);
                    if (attempts == 1 || attempts % 10 == 0) {
                        LOG.warning("upstream " + connector.endpoint() + ": attempt " + attempts + " failed: " + why
                                + "; retrying");
                    }
                    continue;
                }
                String change = reference.check(next.export);
                if (change != null) {
                    LOG.severe("upstream " + connector.endpoint() + " now serves a different export (" + change
                            + "); not resuming on it, retrying");
                    stats.failed("export changed: " + change);
                    next.fail(change, true);
                    next = null;
                    continue;
                }
            }
            Connection c = next;
            next = null;
            int resent = start(c);
            if (resent < 0) {
                return;
            }
            if (lost) {
                stats.reconnected(resent);
                LOG.info("reconnected to upstream " + connector.endpoint() + " after " + attempts
                        + " attempts; retransmitting " + resent + " requests");
            }
            attempts = 0;
            Thread reader = new Thread(() -> {
                try {
                    read(c);
                } finally {
                    PayloadPool.releaseThreadCache(); // a thread per connection: its cache must not outlive it
                }
            }, name + "-reader");
            reader.setDaemon(true);
            reader.start();
            write(c);
            try {
                reader.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            synchronized (lock) {
                connection = null;
            }
            if (c.hasDelivered() || c.ageMillis() > maxDelayMillis) {
                // Only a connection that answered something, or lasted, resets the pace: a server that accepts
                // and then refuses everything (ESHUTDOWN, a reset) must not be hammered.
                backoff.reset();
            }
            lost = !c.isQuiet();
            if (lost && !isClosed()) {
                stats.failed(c.failure());
                LOG.warning("upstream " + connector.endpoint() + " lost (" + c.failure() + "); reconnecting");
            }
        }
    }

    /** After the link's thread failed: its connection is given up; the restart reconnects and retransmits. */
    private void dropAfterFailure() {
        synchronized (lock) {
            if (connection != null) {
                connection.fail("the link's thread failed", false);
                connection = null;
            }
        }
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /**
     * Makes {@code c} current and queues every unanswered request again, in order; returns how many, or -1 when the
     * link was closed meanwhile (and {@code c} with it).
     */
    private int start(Connection c) {
        synchronized (lock) {
            if (closed) {
                c.fail("stopping", true);
                return -1;
            }
            connection = c;
            generation++;
            queue.clear();
            queue.addAll(pending.values());
            return pending.size();
        }
    }

    /**
     * The writer thread: sends what was queued (retransmissions, and requests that met a busy socket); once the
     * server has said it is shutting down, waits for the answers to what it accepted and disconnects.
     */
    private void write(Connection c) {
        try {
            while (true) {
                Request softDisconnect = null;
                synchronized (lock) {
                    while (!c.isFailed() && !closed
                            && (c.isRefusing() ? c.hasUnanswered() : queue.isEmpty() && disconnect == null)) {
                        lock.wait();
                    }
                    if (c.isFailed() || closed) {
                        return;
                    }
                    if (c.isRefusing()) {
                        softDisconnect = disconnect != null ? disconnect : Request.of(Nbd.CMD_DISC, 0, 0, 0, 0);
                        disconnect = null;
                    }
                }
                if (softDisconnect != null) {
                    disconnectSoftly(c, softDisconnect);
                    return;
                }
                sending.lock();
                try {
                    if (drain(c)) {
                        return;
                    }
                } finally {
                    sending.unlock();
                }
            }
        } catch (IOException e) {
            c.fail("write failed: " + e.getMessage(), false);
        } catch (InterruptedException e) {
            c.fail("stopping", true);
        } catch (RuntimeException | Error e) {
            // As in the reader: the connection fails, and the link goes on to the next one.
            LOG.log(Level.SEVERE, "writer failed", e);
            c.fail("writer failed: " + e, false);
        }
    }

    /** The server refused a request with ESHUTDOWN and has answered all it accepted: a clean end, then a reconnect. */
    private void disconnectSoftly(Connection c, Request disc) throws IOException {
        sending.lock();
        try {
            RequestCodec.write(c.out, disc);
            c.out.flush();
        } finally {
            sending.unlock();
        }
        c.fail("upstream is shutting down (ESHUTDOWN); disconnected once it had answered what it accepted", false);
        synchronized (lock) {
            lock.notifyAll();
        }
    }

    /** Writes the queue out and flushes; then a DISCONNECT if one waits, returning true: the connection is done. */
    private boolean drain(Connection c) throws IOException {
        while (true) {
            Request next;
            Request disc = null;
            boolean refusing;
            synchronized (lock) {
                refusing = c.isRefusing();
                next = refusing ? null : queue.poll();
                if (next != null && pending.get(next.cookie()) != next) {
                    continue; // answered or given up since it was queued: its memory may be gone
                }
                if (next != null) {
                    c.sent(next.cookie());
                    next.retain(); // for the write, as in submit
                } else if (!refusing) {
                    disc = disconnect;
                    disconnect = null;
                }
            }
            if (refusing) {
                c.out.flush(); // what was written here is owed an answer; the rest waits for the next connection
                return false;
            }
            if (next != null) {
                try {
                    RequestCodec.write(c.out, next);
                } finally {
                    next.release();
                }
                continue;
            }
            if (disc == null) {
                c.out.flush();
                return false;
            }
            RequestCodec.write(c.out, disc);
            c.out.flush();
            c.fail("client disconnected; a fresh connection for the next one", true);
            synchronized (lock) {
                lock.notifyAll();
            }
            return true;
        }
    }

    private void read(Connection c) {
        Map<Integer, Integer> contextIds = reference.contextIdMap(c.export);
        ReplyValidator rules = ReplyValidator.of(c.export);
        Map<Long, List<Chunk>> partial = new HashMap<>();
        long partialBytes = 0;
        c.beforeWait(this::flushReplies);
        try {
            while (!c.isFailed()) {
                ReplyMessage m = ReplyCodec.read(c.in, cookie -> awaited(c, cookie), Nbd.MAX_PAYLOAD);
                Reply complete = m.simple();
                // Checked as it came, before anything is mapped or delivered: a malformed reply is never an answer.
                Request request = awaited(c, m.cookie());
                try {
                    if (complete != null) {
                        rules.checkSimple(request, complete);
                    } else {
                        rules.checkChunk(request, m.chunk());
                    }
                } catch (ProtocolViolation e) {
                    release(m);
                    throw e;
                }
                if (complete == null) {
                    Chunk chunk = normalize(m.chunk(), contextIds);
                    List<Chunk> chunks = partial.computeIfAbsent(chunk.cookie(), k -> new ArrayList<>());
                    chunks.add(chunk);
                    partialBytes += chunk.length();
                    if (partialBytes > MAX_PARTIAL_BYTES) {
                        throw new IOException("upstream sent " + partialBytes + " bytes of unfinished replies");
                    }
                    if (!chunk.isDone()) {
                        continue;
                    }
                    partial.remove(chunk.cookie());
                    for (Chunk done : chunks) {
                        partialBytes -= done.length();
                    }
                    complete = Reply.structured(chunk.cookie(), chunks);
                }
                if (complete.error() == Nbd.ESHUTDOWN) {
                    complete.release();
                    refused(c, complete.cookie());
                    continue;
                }
                deliver(c, complete);
            }
        } catch (ProtocolViolation | NbdException e) {
            // The server broke the protocol: it is a failed connection, and what it left unanswered is sent again.
            c.fail("protocol violation: " + e.getMessage(), false);
        } catch (IOException e) {
            c.fail(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), false);
        } catch (RuntimeException | Error e) {
            // Whatever ends the reader must fail the connection: the writer, and the client, wait on it.
            LOG.log(Level.SEVERE, "reader failed", e);
            c.fail("reader failed: " + e, false);
        } finally {
            partial.values().forEach(chunks -> chunks.forEach(Chunk::release));
            flushReplies();
            synchronized (lock) {
                lock.notifyAll();
            }
        }
    }

    /** The reader is about to wait, or stops: replies delivered to the client so far go out now. */
    private void flushReplies() {
        LinkSession to;
        synchronized (lock) {
            to = session;
        }
        if (to != null) {
            to.flushReplies();
        }
    }

    /**
     * The request a reply on {@code c} may answer: one sent on that connection and not answered there yet. Null for
     * anything else, such as a second reply to a request, which the codec and the rules refuse.
     */
    private Request awaited(Connection c, long cookie) {
        synchronized (lock) {
            return c.awaits(cookie) ? pending.get(cookie) : null;
        }
    }

    private void deliver(Connection c, Reply reply) {
        Request request;
        LinkSession to;
        synchronized (lock) {
            c.answered(reply.cookie());
            if (c.isRefusing() && !c.hasUnanswered()) {
                lock.notifyAll(); // the writer may disconnect now
            }
            if (c.isFailed()) {
                // Decoded from a connection given up meanwhile (a client left, a reconnect): its cookie may
                // already name another client's request. What is still pending is sent again anyway.
                reply.release();
                return;
            }
            request = pending.remove(reply.cookie());
            to = session;
        }
        if (request == null || to == null) {
            reply.release(); // its client has gone
            if (request != null) {
                request.release();
            }
            return;
        }
        c.delivering(true);
        c.delivered();
        try {
            to.deliver(request, reply); // the reply's memory goes with it
        } finally {
            request.release();
            c.delivering(false);
        }
    }

    /**
     * The server is going away (ESHUTDOWN): the request stays pending, to be sent again after reconnecting. Nothing
     * more is sent on this connection; the writer disconnects once everything else sent on it is answered (a soft
     * disconnect, as the spec asks), or the watchdog gives the connection up if those answers never come.
     */
    private void refused(Connection c, long cookie) {
        synchronized (lock) {
            if (!c.isRefusing()) {
                LOG.warning("upstream " + connectors.get().endpoint() + " is shutting down (ESHUTDOWN): waiting"
                        + " for the answers to what it accepted, then reconnecting");
            }
            c.refuse();
            c.answered(cookie);
            lock.notifyAll();
        }
    }

    /** Gives back the memory of a message that is not going anywhere. */
    private static void release(ReplyMessage m) {
        if (m.simple() != null) {
            m.simple().release();
        } else {
            m.chunk().release();
        }
    }

    private static Chunk normalize(Chunk chunk, Map<Integer, Integer> contextIds) {
        if (chunk.type() != Nbd.REPLY_TYPE_BLOCK_STATUS || contextIds.isEmpty()) {
            return chunk;
        }
        Integer id = contextIds.get(Chunks.contextId(chunk));
        if (id == null) {
            return chunk;
        }
        Chunk renumbered = Chunks.withContextId(chunk, id); // a copy: the original's memory goes back
        chunk.release();
        return renumbered;
    }

    /** The export the sessions see: the one of the first connection. */
    UpstreamExport export() {
        return reference.get();
    }
}
