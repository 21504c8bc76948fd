package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.loop.EventLoop;
import org.flexnbd.protocol.loop.Inbound;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.UpstreamSession;
import org.flexnbd.protocol.tls.StartTlsChannel;

/**
 * A client's transmission phase, on the loop of the upstream link serving it: requests read as they arrive and
 * admitted to the ledger, and the ledger's replies written as the client negotiated them ({@link ClientReplies}), both
 * on one thread with the upstream connection, so that nothing is handed from thread to thread per request.
 * Everything here runs on the loop that hosts the client at the moment ({@link #host}); a call from elsewhere is
 * passed to it.
 * <p>
 * The client's requests wait in its socket, not in memory, while it has no room: its share of the payload budget is
 * used up, or the write journal holds writes back. A reply's budget comes back once its bytes are on the socket.
 */
final class ClientTransmission implements EventLoop.Handler {
    private static final Logger LOG = Logger.getLogger(ClientTransmission.class.getName());
    private static final long DRAIN_MILLIS = 60_000;
    private static final Runnable NO_TIMER = () -> { };
    /**
     * Replies made by the proxy itself (errors, read-ahead answers) a client may leave unread before its requests
     * are read no more: without it, a client sending bad requests and reading nothing would fill the heap.
     */
    private static final long UNREAD_LIMIT = 1 << 20;
    /** Payload bytes admitted in one turn after which they go upstream at once, not at the end of the turn. */
    private static final long SEND_EVERY = 1 << 20;
    /**
     * How long a client waiting for room waits at most before it looks again. What frees room wakes it (replies
     * written, budget another client gives back, the upstream taking what was queued, the journal letting writes go
     * on); this bounds the wait should a wake-up be missed, such as an upstream connection replaced while congested.
     */
    private static final long ROOM_RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Runnable ended;
    private final String peer;
    private final SocketChannel socket;
    private final StartTlsChannel wire;
    private final LongConsumer relayed;
    private final long payloadNanos;
    private final RequestLedger ledger;
    private final PayloadBudget.Share share;
    private final ReadAhead readAhead;
    private final ReplyTranslation translation;
    private final RateLimitedWarnings warnings;
    private final ReadClock readClock;
    private final Supplier<UpstreamSession> upstream;
    private final int maxPayload;
    private final long exportSize;
    private final Inbound in = new Inbound(ClientSession.BUFFER, PayloadPool.shared());
    private final ClientReplies replies;

    private volatile EventLoop host;
    private SelectionKey key;
    /** The request whose header was read and whose payload (or room for it) is awaited; null between requests. */
    private Request header;
    private long cost;
    private boolean charged;
    /** Payload bytes of a refused WRITE still to be read past. */
    private long skip;
    private boolean waitingForRoom;
    /** Whether a look at the room after {@link #ROOM_RECHECK_NANOS} is due on the host's timer. */
    private boolean recheckDue;
    /** What cancels the timers this client has set, once it has gone: a timer holds the client until it is due. */
    private Runnable cancelRecheck = NO_TIMER;
    private Runnable cancelDisconnectDeadline = NO_TIMER;
    private Request disconnect;
    private long disconnectDeadline;
    private boolean finished;
    private final AtomicBoolean unansweredTold = new AtomicBoolean();
    /** Set when the proxy stops: the client's input is shut, and what is in flight may finish until then. */
    private volatile long drainDeadlineMillis;

    /**
     * @param readClock where the WRITE payload time limit ({@code payloadNanos}) is kept, for the watchdog
     * @param upstream the upstream session serving the client now, or null between services
     * @param relayed told the payload bytes of each request and its reply, before the client can see the reply
     * @param ended told once, on the loop, when the transmission is over and everything it held is given back
     */
    ClientTransmission(String peer, SocketChannel socket, StartTlsChannel wire, RequestLedger ledger,
            PayloadBudget.Share share, ReadAhead readAhead, ReplyTranslation translation, RateLimitedWarnings warnings,
            ReadClock readClock, long payloadNanos, Supplier<UpstreamSession> upstream, int maxPayload,
            long exportSize, LongConsumer relayed, Runnable ended) {
        this.peer = peer;
        this.socket = socket;
        this.wire = wire;
        this.ledger = ledger;
        this.share = share;
        this.readAhead = readAhead;
        this.translation = translation;
        this.warnings = warnings;
        this.readClock = readClock;
        this.payloadNanos = payloadNanos;
        this.upstream = upstream;
        this.maxPayload = maxPayload;
        this.exportSize = exportSize;
        this.relayed = relayed;
        this.ended = ended;
        this.replies = new ClientReplies(peer, wire, ledger, translation, readAhead, relayed, () -> {
            UpstreamSession to = upstream.get();
            if (to != null) {
                to.written();
            }
        });
    }

    /**
     * Starts serving on {@code loop}: {@code early} (what the handshake's reader had read beyond it) is read first.
     * From any thread: the loop is the client's host at once, so that a move to another loop ({@link #moveTo}) from
     * now on follows the start there, whenever it comes.
     */
    void start(EventLoop loop, ByteBuffer early) {
        in.prefill(early);
        host = loop;
        ledger.listen(this::writeReplies);
        loop.execute(this::rejoin);
    }

    /**
     * The client moves to another upstream link's loop (a hot update of the upstream bundle): the one hosting it
     * lets it go, then the new one takes it, with whatever it had half read or not yet written.
     */
    void moveTo(EventLoop next) {
        EventLoop now = host;
        if (now == null || now == next) {
            return;
        }
        Runnable move = () -> {
            if (finished) {
                return;
            }
            if (key != null) {
                key.cancel();
                key = null;
            }
            host = next;
            next.execute(this::rejoin);
        };
        if (now.isRunning()) {
            now.execute(move);
        } else {
            move.run(); // its thread has ended: nobody else touches the client now
        }
    }

    /** Registers with the loop that hosts the client now, and goes on where it was. */
    private void rejoin() {
        if (finished) {
            return;
        }
        // It looks for room again here, and waits again if there is none, with a recheck on this loop: the one
        // the loop it left had scheduled may never run.
        recheckDue = false;
        waitingForRoom = false;
        try {
            key = host.register(socket, interestOps(), this);
        } catch (IOException e) {
            LOG.info("client " + peer + " gone: " + e.getMessage());
            finish();
            return;
        }
        readRequests();
        writeReplies();
    }

    /** On the right loop, now or soon: false when the caller must leave it to the loop. */
    private boolean onHost(Runnable again) {
        EventLoop h = host;
        if (h == null || h.inLoop()) {
            return true;
        }
        h.execute(again);
        return false;
    }

    @Override
    public void ready(int ops) {
        if ((ops & SelectionKey.OP_WRITE) != 0) {
            flushOut();
        }
        if ((ops & SelectionKey.OP_READ) != 0) {
            readRequests();
        }
    }

    @Override
    public void failed(Throwable cause) {
        LOG.log(Level.SEVERE, "client " + peer + ": unexpected failure", cause);
        finish();
    }

    // ---- requests

    private void readRequests() {
        if (finished || disconnect != null || waitingForRoom || !onHost(this::readRequests)) {
            return;
        }
        int admitted = 0;
        long unsent = 0;
        // A client with nothing in flight waits for the answer to what it sends now (QD1): once that is read, the
        // socket is empty, and asking it again costs a system call on every request. The selector is level-triggered
        // and TLS is left out (its records may hold more than the socket shows), so a client that does send more
        // costs a turn of the loop, never a stall.
        boolean waitsForAnswers = wire.tls() == null && ledger.inFlight() == 0;
        try {
            UpstreamSession to = upstream.get();
            while (!finished) {
                if (waitsForAnswers && admitted > 0 && header == null && in.buffered() == 0) {
                    break;
                }
                if (replies.pending() >= UNREAD_LIMIT) {
                    awaitRoom(); // the client reads what it was sent first
                    break;
                }
                if (to != null && to.congested()) {
                    awaitRoom(); // the upstream takes less than the client sends: the rest waits in its socket
                    break;
                }
                if (skip > 0) {
                    if (!skipRefusedPayload()) {
                        break;
                    }
                    continue;
                }
                if (header == null && !readHeader()) {
                    break;
                }
                if (header == null) {
                    continue; // answered without the upstream
                }
                if (!charged) {
                    if (!share.tryAcquire(cost, this::budgetCameBack)) {
                        awaitRoom();
                        break;
                    }
                    charged = true;
                }
                Request read = header;
                if (header.type() == Nbd.CMD_WRITE) {
                    if (!in.isReadingPayload()) {
                        if (ledger.writesHeld()) {
                            awaitRoom(); // what was sent may be what empties the write journal
                            break;
                        }
                        // A WRITE's data is taken in only now that there is room for it: until then it waits in
                        // the socket.
                        readClock.start("WRITE payload", payloadNanos);
                        in.beginArrivingPayload((int) header.length());
                    }
                    if (!in.payloadRead(wire)) {
                        break;
                    }
                    readClock.stop();
                    Inbound.Data data = in.takePayload();
                    read = new Request(header.flags(), header.type(), header.cookie(), header.offset(),
                            header.length(), data.data(), data.owner());
                }
                Request up = readAhead.isOn() ? readAhead.widen(read, exportSize, maxPayload) : read;
                long charge = cost;
                header = null;
                charged = false;
                // From here the ledger gives the payload and the budget back, whatever happens.
                if (!ledger.admit(read, up, charge)) {
                    finish(); // the client is being closed
                    return;
                }
                admitted++;
                unsent += read.payloadLength();
                if (unsent >= SEND_EVERY && to != null) {
                    to.send(false); // now, so that an upstream slower than the client shows as congested
                    unsent = 0;
                }
            }
        } catch (NbdException e) {
            LOG.warning("client " + peer + ": " + e.getMessage() + "; closing");
            finish();
        } catch (IOException e) {
            LOG.info("client " + peer + " gone: " + e.getMessage());
            finish();
        } finally {
            // The session serving the client now: a hot update of the upstream bundle may have moved it this turn.
            UpstreamSession to = upstream.get();
            if (admitted > 0 && to != null) {
                to.send(true); // after whatever else this turn of the loop brings: one write for the batch
            }
        }
    }

    /** Reads and checks the next header; false when it has not all arrived (or the client left). */
    private boolean readHeader() throws IOException {
        if (!in.has(wire, Nbd.REQUEST_HEADER_LENGTH)) {
            if (in.isEnded()) {
                ended();
            } else if (in.isTruncated()) {
                LOG.info("client " + peer + " gone: connection closed in the middle of a request");
                finish();
            }
            return false;
        }
        RequestCodec.Head h = RequestCodec.head(in.peek(), maxPayload);
        in.skip(Nbd.REQUEST_HEADER_LENGTH);
        if (h.refusal() != null) {
            NbdException e = h.refusal();
            warnings.warn("client " + peer + ": " + e.getMessage() + "; answered with error " + e.error());
            send(translation.error(e.cookie(), e.error()));
            skip = h.skip();
            return true;
        }
        Request r = h.request();
        if (r.type() == Nbd.CMD_DISC) {
            beginDisconnect(r, System.currentTimeMillis() + DRAIN_MILLIS);
            return false;
        }
        String unasked = translation.notNegotiated(r);
        if (unasked != null) {
            warnings.warn("client " + peer + ": " + unasked + "; answered with error " + Nbd.EINVAL);
            send(translation.error(r.cookie(), Nbd.EINVAL));
            return true;
        }
        if (readAhead.isOn()) {
            Reply cached = readAhead.answer(r, ledger.generation());
            if (cached != null) {
                relayed.accept(r.length());
                send(translation.asNegotiated(r, cached));
                return true;
            }
        }
        header = r;
        cost = r.type() == Nbd.CMD_READ || r.type() == Nbd.CMD_WRITE ? r.length() : 0;
        return true;
    }

    private boolean skipRefusedPayload() throws IOException {
        if (!in.has(wire, 1)) {
            if (in.isEnded() || in.isTruncated()) {
                finish();
            }
            return false;
        }
        int n = (int) Math.min(skip, in.buffered());
        in.skip(n);
        skip -= n;
        return true;
    }

    /** The client closed its side between requests. */
    private void ended() {
        long drain = drainDeadlineMillis;
        if (drain != 0) {
            beginDisconnect(Request.of(Nbd.CMD_DISC, 0, 0, 0, 0), drain); // the proxy is stopping
            return;
        }
        LOG.info("client " + peer + " left");
        finish();
    }

    /** No room for the next request: its data waits in the socket until replies written, or others, free some. */
    private void awaitRoom() {
        waitingForRoom = true;
        interest();
        UpstreamSession to = upstream.get();
        if (to != null) {
            to.flush(); // what is held can only be freed by replies to what was sent
        }
        if (!recheckDue) {
            recheckDue = true; // one at a time: a client may wait and be woken thousands of times a second
            cancelRecheck = host.schedule(ROOM_RECHECK_NANOS, () -> {
                recheckDue = false;
                roomMayBeThere();
            });
        }
    }

    /**
     * Budget came back, on the thread of whichever client gave it: the loop hosting this one tries again, later, even
     * when that is this thread. This client's own reply being written gives budget back in the middle of its
     * flushOut, under its ledger's lock, where reading requests must not start.
     */
    private void budgetCameBack() {
        EventLoop h = host;
        if (h != null && h.isRunning()) {
            h.execute(this::roomMayBeThere);
        }
    }

    private void roomMayBeThere() {
        if (!waitingForRoom || finished || !onHost(this::roomMayBeThere)) {
            return; // a wake-up handed to the loop it has just left goes on to the one hosting it now
        }
        waitingForRoom = false;
        interest();
        readRequests();
    }

    // ---- the client's DISCONNECT, or the proxy stopping

    /** The client's DISCONNECT goes upstream once every reply it waits for is written (or at the deadline). */
    private void beginDisconnect(Request disc, long deadline) {
        disconnect = disc;
        disconnectDeadline = deadline;
        interest();
        cancelDisconnectDeadline = host.schedule(
                TimeUnit.MILLISECONDS.toNanos(Math.max(0, deadline - System.currentTimeMillis())) + 1,
                this::disconnectIfDone);
        disconnectIfDone();
    }

    private void disconnectIfDone() {
        if (disconnect == null || finished) {
            return;
        }
        int unanswered = ledger.inFlight();
        if ((unanswered > 0 || !replies.isEmpty()) && System.currentTimeMillis() < disconnectDeadline) {
            return;
        }
        warnUnanswered(drainDeadlineMillis != 0 ? "closed at the drain bound" : "disconnected", unanswered);
        ledger.disconnect(disconnect);
        UpstreamSession to = upstream.get();
        if (to != null) {
            to.send(false);
        }
        LOG.info("client " + peer + " disconnected");
        finish();
    }

    /**
     * The client sees its connection drop and knows these may not have happened; the operator should too. Once: at
     * the drain bound the listener's forced close and the client's own deadline on the loop race to say it.
     */
    void warnUnanswered(String how, int unanswered) {
        if (unanswered > 0 && unansweredTold.compareAndSet(false, true)) {
            LOG.warning("client " + peer + ": " + how + " with " + unanswered
                    + " requests unanswered (the upstream did not answer them in time)");
        }
    }

    /**
     * Stopping the proxy: no more requests are read (the input is shut, so the loop sees the end of it after what
     * was already read); what is in flight may finish until {@code deadlineMillis}, then DISCONNECT goes upstream.
     */
    void stopReading(long deadlineMillis) {
        drainDeadlineMillis = deadlineMillis;
        try {
            socket.shutdownInput();
        } catch (IOException e) {
            close(); // nothing left to drain on a socket that cannot even be shut
        }
    }

    // ---- replies

    /**
     * Writes what the ledger has answered: told by the upstream connection's reader, once a batch, and by the link
     * when the write journal lets the client's writes go on (a reading that waited for room then goes on too).
     */
    void writeReplies() {
        if (finished || !onHost(this::writeReplies)) {
            return;
        }
        replies.takeAnswered();
        flushOut();
    }

    /** A reply the proxy makes itself (an error, a read-ahead answer). */
    private void send(Reply reply) {
        replies.add(reply);
        flushOut();
    }

    private void flushOut() {
        if (finished) {
            return;
        }
        boolean done;
        try {
            done = replies.writeOut();
        } catch (IOException e) {
            LOG.info("client " + peer + " gone: " + e.getMessage());
            finish(); // a client that stopped reading and was closed, or that left
            return;
        }
        if (done) {
            if (waitingForRoom) {
                roomMayBeThere();
            }
            disconnectIfDone();
        }
        interest();
    }

    /** Nanoseconds replies have waited for the client at {@code nowNanos}; 0 when it takes them. */
    long stalledNanos(long nowNanos) {
        return replies.stalledNanos(nowNanos);
    }

    private int interestOps() {
        boolean reading = !waitingForRoom && disconnect == null;
        return (reading ? SelectionKey.OP_READ : 0) | (replies.isEmpty() ? 0 : SelectionKey.OP_WRITE);
    }

    private void interest() {
        if (key != null && key.isValid()) {
            int ops = interestOps();
            if (key.interestOps() != ops) {
                key.interestOps(ops);
            }
        }
    }

    // ---- the end

    /** From any thread: the client is closed, and its loop lets it go. */
    void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // the client is gone either way
        }
        EventLoop h = host;
        if (h != null && h.isRunning()) {
            h.execute(this::finish);
        } else {
            finish();
        }
    }

    /** Lets the client go, once: everything it holds goes back, and its session ends. */
    private void finish() {
        if (finished || !onHost(this::finish)) {
            return;
        }
        finished = true;
        if (key != null) {
            key.cancel();
        }
        // Whatever it held, 60 s longer after a DISCONNECT, while the place it held already served another client.
        cancelRecheck.run();
        cancelDisconnectDeadline.run();
        readClock.stop();
        in.discardPayload();
        if (charged) {
            share.release(cost); // charged for a request the ledger never took
            charged = false;
        }
        replies.discard();
        ledger.listen(() -> { });
        ended.run();
    }
}
