package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.ServerHandshake;
import org.flexnbd.protocol.ServerOffer;
import org.flexnbd.protocol.SimpleConversion;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.service.ReplyHandler;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamSession;

/**
 * One client, from hello to goodbye. It keeps the authoritative table of the client's unanswered requests, so that
 * when the Upstream service itself is replaced (a hot update of its bundle) every one of them is submitted again to
 * the new one. Replies are accepted only from the current upstream session, and only once per request.
 * <p>
 * Payload memory: WRITE data is read into pooled memory, of which the table holds one reference per request until
 * its reply is written (or the client is gone); the upstream side takes its own. A reply handed over by the
 * upstream, with its memory, is released here once it is written, or dropped.
 */
final class ClientSession implements Runnable, ReplyHandler {
    private static final Logger LOG = Logger.getLogger(ClientSession.class.getName());
    /**
     * Small: a payload larger than half of it bypasses it (WireInput, WireOutput), so it holds headers and small
     * payloads only, and hundreds of clients must fit the heap beside the payload budget (see {@link ClientMemory}).
     */
    static final int BUFFER = 16 * 1024;
    private static final long DRAIN_MILLIS = 60_000;

    private final SocketChannel socket;
    private final String peer;
    private final SessionHost host;
    private final WireInput in;
    private final WireOutput out;
    private final WriteClock clock;
    private final ReadClock readClock = new ReadClock();
    private final PayloadBudget.Share share;
    private final Object writeLock = new Object();
    private final ReadAhead readAhead;
    private final RateLimitedWarnings warnings;

    private final Object lock = new Object();
    private final Object switching = new Object();
    private final LinkedHashMap<Long, Request> table = new LinkedHashMap<>();
    private UpstreamSession current;
    private Upstream currentService;
    private UpstreamExport upstreamExport;
    private volatile ClientAgreement agreement;
    private volatile Map<Integer, Integer> clientContextIds = Map.of();
    /** Replies taken from the table and not yet written: DISCONNECT and shutdown wait for these too. */
    private int writing;
    private boolean closing;
    /** Set when the proxy stops: the client's input is shut, and what is in flight may finish until then. */
    private volatile long drainDeadlineMillis;

    ClientSession(SocketChannel socket, String peer, SessionHost host) {
        this.socket = socket;
        this.peer = peer;
        this.host = host;
        // Before waiting for the client, send upstream what its earlier requests left buffered.
        this.in = new WireInput(socket, BUFFER, this::flushUpstream, PayloadPool.shared());
        this.clock = new WriteClock(socket);
        this.out = new WireOutput(clock, BUFFER, true);
        this.readAhead = new ReadAhead(host.readAheadBytes());
        this.warnings = new RateLimitedWarnings(LOG, "client " + peer);
        this.share = host.budget().join();
    }

    String peer() {
        return peer;
    }

    /**
     * Closes the client if a write to it has waited longer than {@code limitNanos}: a client that has stopped
     * reading would otherwise hold its place, its share of the payload budget and its upstream link for ever.
     */
    void dropIfStalled(long nowNanos, long limitNanos) {
        long waited = clock.waitedNanos(nowNanos);
        if (limitNanos > 0 && waited > limitNanos) {
            LOG.warning("client " + peer + " has taken no reply for " + waited / 1_000_000_000L
                    + " s; closing it");
            closeSocket();
        }
        String overdue = readClock.overdue(nowNanos);
        if (overdue != null) {
            LOG.warning("client " + peer + ": " + overdue + "; closing it");
            closeSocket();
        }
    }

    @Override
    public void run() {
        try {
            UpstreamExport export = awaitUpstream();
            if (export == null) {
                return;
            }
            readClock.start("handshake", host.limits().handshakeNanos());
            agreement = handshake(export);
            readClock.stop();
            if (agreement == null) {
                LOG.info("client " + peer + " aborted the handshake");
                return;
            }
            clientContextIds = clientIds(export, agreement);
            LOG.info("client " + peer + " connected (" + (agreement.oldstyle() ? "oldstyle" : "newstyle")
                    + (agreement.structuredReplies() ? ", structured replies" : "") + ")");
            serve(export.export().maxBlock(), export.export().size());
        } catch (NbdException e) {
            LOG.warning("client " + peer + ": " + e.getMessage() + "; closing");
        } catch (IOException e) {
            LOG.info("client " + peer + " gone: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "client " + peer + ": unexpected failure", e);
        } finally {
            end();
            PayloadPool.releaseThreadCache();
        }
    }

    /** Opens a session on the Upstream service, waiting while there is none; null if the session is closing. */
    private UpstreamExport awaitUpstream() throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            Upstream u = host.upstream();
            if (u != null) {
                upstreamArrived(u);
            }
            synchronized (lock) {
                if (closing) {
                    return null;
                }
                if (current != null) {
                    upstreamExport = current.export();
                    return upstreamExport;
                }
                lock.wait(100);
            }
        }
        LOG.warning("client " + peer + ": no upstream for a minute; closing");
        return null;
    }

    private ClientAgreement handshake(UpstreamExport upstream) throws IOException {
        ExportInfo export = upstream.export();
        int flags = export.transmissionFlags();
        if (!host.multiConnAllowed()) {
            flags &= ~Nbd.FLAG_CAN_MULTI_CONN;
        }
        export = export.withTransmissionFlags(flags);
        String style = host.handshake();
        boolean oldstyle = style.equals("oldstyle") || (style.equals("same") && upstream.oldstyle());
        if (oldstyle) {
            return ServerHandshake.oldstyle(out, export);
        }
        ServerOffer offer = new ServerOffer(export, upstream.structuredReplies(),
                List.copyOf(upstream.metaContexts().keySet()));
        ClientAgreement a = ServerHandshake.newstyle(in, out, offer);
        out.flush();
        return a;
    }

    /** The upstream's context id, to the id this client was given for the same context. */
    private static Map<Integer, Integer> clientIds(UpstreamExport upstream, ClientAgreement agreement) {
        Map<Integer, Integer> ids = new java.util.HashMap<>();
        agreement.metaContexts().forEach((clientId, name) -> {
            Integer upstreamId = upstream.metaContexts().get(name);
            if (upstreamId != null) {
                ids.put(upstreamId, clientId);
            }
        });
        return ids;
    }

    private void serve(int maxPayload, long exportSize) throws IOException, InterruptedException {
        while (true) {
            Request r;
            try {
                r = RequestCodec.readHeader(in, maxPayload);
            } catch (NbdException e) {
                if (e.isFatal()) {
                    throw e;
                }
                warnings.warn("client " + peer + ": " + e.getMessage() + "; answered with error " + e.error());
                send(errorReply(e.cookie(), e.error()), false);
                continue;
            }
            if (r == null && drainDeadlineMillis != 0) {
                disconnect(Request.of(Nbd.CMD_DISC, 0, 0, 0, 0), drainDeadlineMillis); // the proxy is stopping
                return;
            }
            if (r == null) {
                LOG.info("client " + peer + " left");
                return;
            }
            if (r.type() == Nbd.CMD_DISC) {
                disconnect(r, System.currentTimeMillis() + DRAIN_MILLIS);
                return;
            }
            if (readAhead.isOn() && answeredFromCache(r)) {
                continue;
            }
            long cost = cost(r);
            if (!share.tryAcquire(cost)) {
                flushUpstream(); // what is held can only be freed by replies to what was sent
                share.acquire(cost);
            }
            // A WRITE's data is taken in only once there is room for it: until then it waits in the socket.
            Request upstream;
            UpstreamSession to;
            Request read = null;
            boolean tabled = false;
            try {
                readClock.start("WRITE payload", r.type() == Nbd.CMD_WRITE ? host.limits().payloadNanos() : 0);
                read = RequestCodec.readPayload(in, r);
                readClock.stop();
                upstream = readAhead.isOn() ? readAhead.widen(read, exportSize) : read;
                synchronized (lock) {
                    if (table.containsKey(read.cookie())) {
                        throw NbdException.fatal(String.format("cookie %016x reused while still in flight",
                                read.cookie()));
                    }
                    table.put(read.cookie(), read); // the table now holds the payload's memory
                    tabled = true;
                    to = current;
                    // And this thread one more, for the submission below: once the lock is let go, a move to
                    // another upstream service may resubmit the request, get its reply, and free the table's.
                    upstream.retain();
                }
            } finally {
                if (!tabled) {
                    share.release(cost); // an Error too: budget lost here would never come back
                    if (read != null) {
                        read.release();
                    }
                }
            }
            // Outside the lock: the write may wait for the upstream, whose replies need the lock to be delivered.
            try {
                if (to != null) {
                    to.submit(upstream, in.buffered() >= Nbd.REQUEST_HEADER_LENGTH);
                }
            } finally {
                upstream.release();
            }
        }
    }

    private void flushUpstream() {
        UpstreamSession to;
        synchronized (lock) {
            to = current;
        }
        if (to != null) {
            to.flush();
        }
    }

    private boolean answeredFromCache(Request r) throws IOException {
        UpstreamSession s;
        synchronized (lock) {
            s = current;
            if (s == null || table.containsKey(r.cookie())) {
                return false;
            }
        }
        Reply cached = readAhead.answer(r, s.connectionGeneration());
        if (cached == null) {
            return false;
        }
        host.relayed(r.length());
        send(asNegotiated(r, cached), false);
        return true;
    }

    /** An error the proxy answers itself: the spec forbids a simple reply to a READ once structured replies are on. */
    private Reply errorReply(long cookie, int error) {
        if (!agreement.structuredReplies()) {
            return Reply.simple(cookie, error, null);
        }
        return Reply.structured(cookie, List.of(Chunks.error(cookie, Nbd.REPLY_FLAG_DONE, error, "")));
    }

    /** A simple reply to a READ, as this client negotiated: itself, or one data (or error) chunk. */
    private Reply asNegotiated(Request r, Reply simple) {
        if (!agreement.structuredReplies()) {
            return simple;
        }
        Chunk only = simple.error() != 0
                ? Chunks.error(r.cookie(), Nbd.REPLY_FLAG_DONE, simple.error(), "")
                : Chunks.offsetData(r.cookie(), Nbd.REPLY_FLAG_DONE, r.offset(), simple.data());
        return Reply.structured(r.cookie(), List.of(only));
    }

    /** Payload held for a request until its reply is written: its WRITE data, or room for its READ data. */
    private static long cost(Request r) {
        return r.type() == Nbd.CMD_READ || r.type() == Nbd.CMD_WRITE ? r.length() : 0;
    }

    /** The client's DISCONNECT goes upstream once every reply it waits for is written. */
    private void disconnect(Request disc, long deadline) throws InterruptedException {
        flushUpstream();
        UpstreamSession to;
        synchronized (lock) {
            while ((!table.isEmpty() || writing > 0) && !closing && System.currentTimeMillis() < deadline) {
                lock.wait(100);
            }
            to = current;
        }
        if (to != null) {
            to.disconnect(disc);
        }
        LOG.info("client " + peer + " disconnected");
    }

    /** From an upstream thread: one complete reply, buffered until {@link #flush()}. */
    @Override
    public void reply(UpstreamSession from, Request request, Reply reply) {
        Request original;
        synchronized (lock) {
            original = from == current ? table.remove(request.cookie()) : null;
            if (original == null) {
                reply.release();
                return;
            }
            writing++;
        }
        try {
            Reply out;
            try {
                if (readAhead.isWidened(original.cookie())) {
                    out = asNegotiated(original,
                            readAhead.narrow(original, request, reply, from.connectionGeneration()));
                } else {
                    out = agreement.structuredReplies() ? forClient(reply)
                            : SimpleConversion.toSimple(request, reply);
                }
            } catch (RuntimeException malformed) {
                // The request is out of the table: it must still get an answer.
                LOG.log(Level.WARNING, "client " + peer + ": unusable upstream reply to " + original, malformed);
                out = errorReply(original.cookie(), Nbd.EIO);
            } finally {
                readAhead.answered(original);
            }
            host.relayed(original.payloadLength() + out.payloadBytes()); // counted before the client can look
            send(out, true);
        } catch (IOException e) {
            closeSocket();
        } finally {
            reply.release(); // what was sent from it has been written out, or never will be
            original.release();
            share.release(cost(original));
            synchronized (lock) {
                writing--;
                lock.notifyAll();
            }
        }
    }

    @Override
    public void flush() {
        if (agreement == null) {
            return; // the handshake still owns the output, on the client's thread
        }
        synchronized (writeLock) {
            try {
                out.flush();
            } catch (IOException e) {
                closeSocket();
            }
        }
    }

    private void send(Reply reply, boolean more) throws IOException {
        synchronized (writeLock) {
            ReplyCodec.write(out, reply);
            if (!more) {
                out.flush();
            }
        }
    }

    /** BLOCK_STATUS chunks carry the client's context ids; contexts the client did not select are left out. */
    private Reply forClient(Reply reply) {
        if (!reply.isStructured()) {
            return reply;
        }
        List<Chunk> chunks = new ArrayList<>();
        boolean changed = false;
        for (Chunk c : reply.chunks()) {
            if (c.type() != Nbd.REPLY_TYPE_BLOCK_STATUS) {
                chunks.add(c);
                continue;
            }
            changed = true;
            Integer id = clientContextIds.get(Chunks.contextId(c));
            if (id != null) {
                chunks.add(Chunks.withContextId(c, id).withFlags(0));
            }
        }
        if (!changed) {
            return reply;
        }
        if (chunks.isEmpty()) {
            chunks.add(Chunks.none(reply.cookie()));
        } else {
            int last = chunks.size() - 1;
            chunks.set(last, chunks.get(last).withFlags(Nbd.REPLY_FLAG_DONE));
        }
        return Reply.structured(reply.cookie(), chunks);
    }

    /** Called when an Upstream service is (re)bound: move to it and submit every unanswered request again. */
    void upstreamArrived(Upstream u) {
        // One switch at a time: the client's own thread and SCR's bind may both bring the same service, and only
        // one of them may open a session on it (a second would take another upstream connection).
        synchronized (switching) {
            synchronized (lock) {
                if (closing || currentService == u) {
                    return;
                }
            }
            switchTo(u);
        }
    }

    private void switchTo(Upstream u) {
        UpstreamSession fresh;
        try {
            fresh = u.open(this);
        } catch (IOException e) {
            LOG.warning("client " + peer + ": cannot open an upstream session: " + e.getMessage());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        UpstreamSession old;
        List<Request> unanswered;
        readAhead.forget();
        synchronized (lock) {
            if (closing || currentService == u || host.upstream() != u) {
                fresh.close(); // a newer service was bound meanwhile: it brings its own session
                return;
            }
            if (upstreamExport != null) {
                String change = upstreamExport.differenceFrom(fresh.export());
                if (change != null) {
                    LOG.severe("client " + peer + ": the new upstream service serves a different export (" + change
                            + ")");
                }
            }
            old = current;
            current = fresh;
            currentService = u;
            if (agreement != null) {
                // A new service numbers its contexts afresh: the client keeps its ids, mapped from the new ones.
                clientContextIds = clientIds(fresh.export(), agreement);
            }
            unanswered = List.copyOf(table.values());
            unanswered.forEach(Request::retain); // a reply may take one out of the table while it is resubmitted
            lock.notifyAll();
        }
        // Outside the lock, as in serve(): requests the client sends meanwhile go straight to the fresh session.
        for (Request r : unanswered) {
            try {
                fresh.submit(r, true);
            } finally {
                r.release();
            }
        }
        fresh.flush();
        int resubmitted = unanswered.size();
        if (old != null) {
            old.close();
        }
        if (agreement != null) {
            LOG.info("client " + peer + ": moved to a new upstream service; resubmitted " + resubmitted
                    + " requests");
        }
    }

    /** Called when the Upstream service goes away: requests stay in the table until another comes. */
    void upstreamGone(Upstream u) {
        UpstreamSession old;
        synchronized (lock) {
            if (currentService != u) {
                return;
            }
            old = current;
            current = null;
            currentService = null;
        }
        old.close();
    }

    /**
     * Stopping the proxy: no more requests are read (the input is shut, so the client's thread sees the end of it
     * after what was already read); the client's own thread lets what is in flight finish until
     * {@code deadlineMillis}, passes DISCONNECT on and ends. All clients drain at once, each on its own thread.
     */
    void stopReading(long deadlineMillis) {
        drainDeadlineMillis = deadlineMillis;
        try {
            socket.shutdownInput();
        } catch (IOException e) {
            closeSocket(); // nothing left to drain on a socket that cannot even be shut
        }
    }

    /** Stopping the proxy, after the drain bound: whatever is still in flight is dropped. */
    void forceClose() {
        synchronized (lock) {
            closing = true;
            lock.notifyAll();
        }
        closeSocket();
    }

    /** A session whose thread could not be started: it gives back what it took. */
    void abandon() {
        end();
    }

    private void end() {
        warnings.close();
        UpstreamSession s;
        long held = 0;
        synchronized (lock) {
            closing = true;
            for (Request r : table.values()) {
                held += cost(r);
                r.release();
            }
            table.clear();
            s = current;
            current = null;
            currentService = null;
            lock.notifyAll();
        }
        share.release(held);
        share.leave();
        if (s != null) {
            s.close();
        }
        closeSocket();
        host.ended(this);
    }

    private void closeSocket() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // the client is gone either way
        }
    }
}
