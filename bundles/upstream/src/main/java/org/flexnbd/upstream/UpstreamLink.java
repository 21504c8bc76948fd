package org.flexnbd.upstream;

import java.io.IOException;
import java.util.List;
import java.io.UncheckedIOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.loop.EventLoop;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.upstream.Connection.Binding;

/**
 * One upstream connection slot, kept alive for ever, working for one client's {@link RequestLedger} at a time. It is
 * only I/O: what to send, and what a reply means, is the ledger's to say. Its {@link EventLoop}, on a thread of its
 * own, reads the connection's replies ({@link ReplyPump}) and writes what the ledger queues; the client's socket
 * joins the same loop, so that a request and its reply go through one thread. Connecting, the handshake and
 * writing the journal again happen on a second thread, which hands each ready connection to the loop and waits
 * for it to end. One connection's part in the write journal is its {@link ConnectionJournal}.
 * <p>
 * No socket I/O happens under the link's lock: closing a connection under it only marks it failed and closes the
 * channel, which never blocks.
 */
final class UpstreamLink {
    static final Logger LOG = Logger.getLogger(UpstreamLink.class.getName());

    private final String name;
    private final Supplier<Connector> connectors;
    private final ReferenceExport reference;
    private final Stats stats;
    private final Reconnector reconnector;
    private final Runnable onIdle;
    private final WriteJournal journal;
    private final LongConsumer onLoss;

    private final Object lock = new Object();
    private final EventLoop loop;
    private final Thread loopThread;
    /** The connection the loop serves, with what it has read and has to write; the loop's alone. */
    private UpstreamWire wire;
    /** A turn of {@link #drain} is already asked for: requests admitted meanwhile go with it. */
    private final AtomicBoolean drainAsked = new AtomicBoolean();
    private Connection connection;
    private LinkSession session;
    /**
     * A DISCONNECT left by a client that has gone, or one waiting for the proxy's own FLUSH: sent before anything of
     * the next client's. Written under the lock; volatile so that the loop may look at it after every read.
     */
    private volatile Request leftDisconnect;
    private boolean closed;
    /** The connection writing the journal again, before it starts: watched for progress like a started one. */
    private volatile Connection replayingOn;
    /** How long a connection given up may take to close its end before its requests are sent again elsewhere. */
    private static final long FENCE_MILLIS = 5000;
    /** The connection was given up for the journal's sake, not for a fault of the upstream: no pause before the next. */
    private volatile boolean replacedForJournal;
    private final Thread thread;

    /**
     * @param onLoss told the journal epoch of a connection lost while the upstream may have lost acknowledged writes
     */
    UpstreamLink(String name, Supplier<Connector> connectors, ReferenceExport reference, Stats stats, long maxDelayMillis,
            Connection first, Runnable onIdle, WriteJournal journal, LongConsumer onLoss, Comeback comeback) {
        this.name = name;
        this.journal = journal;
        this.onLoss = onLoss;
        this.connectors = connectors;
        this.reference = reference;
        this.stats = stats;
        this.reconnector = new Reconnector(connectors, reference, stats, maxDelayMillis, this::isClosed, comeback);
        this.onIdle = onIdle;
        try {
            this.loop = new EventLoop();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a selector for " + name, e);
        }
        this.loopThread = PayloadPool.newThread(new RestartingLoop(name + "-loop", () -> {
            try {
                loop.run();
            } finally {
                PayloadPool.releaseThreadCache();
            }
        }, this::dropAfterFailure, this::isClosed, 1000), name + "-loop");
        loopThread.setDaemon(true);
        loopThread.start();
        Connection[] once = {first};
        this.thread = new Thread(new RestartingLoop(name, () -> {
            Connection c = once[0];
            once[0] = null; // a restart connects afresh
            try {
                run(c);
            } catch (InterruptedException e) {
                // stopped
            }
        }, this::dropAfterFailure, this::isClosed, 1000), name);
        thread.setDaemon(true);
        thread.start();
    }

    /** From now on this link works for {@code ledger}: everything it has in flight is sent here. No I/O. */
    LinkSession attach(RequestLedger ledger) {
        LinkSession s;
        synchronized (lock) {
            s = new LinkSession(this, ledger);
            session = s;
            Connection c = connection;
            if (c != null && !c.isFailed()) {
                c.bind(new Binding(ledger, ledger.begin()));
            }
            ledger.holdWrites(journal.isFull());
        }
        askDrain(); // what the ledger had in flight elsewhere is sent here
        return s;
    }

    /** The session's client has gone, or moved to another link: late replies must not reach the next one. */
    void detach(LinkSession s) {
        synchronized (lock) {
            if (session != s) {
                return;
            }
            session = null;
            s.ledger().holdWrites(false); // its next link says again
            Connection c = connection;
            if (c != null) {
                Binding b = c.binding();
                c.bind(null);
                int late = b == null ? 0 : b.ledger().release(b.token());
                Request disc = s.ledger().takeDisconnectOfDeparted();
                if (disc != null && !c.isFailed()) {
                    leftDisconnect = disc; // sent first; the connection is replaced after it anyway
                } else if (late > 0) {
                    c.fail("client left with " + late + " requests outstanding; replacing the connection", true);
                } else if (c.isRefusing()) {
                    c.fail("the upstream is shutting down (ESHUTDOWN); replacing the connection", true);
                }
            }
        }
        askDrain();
        // The loop lives on; the buffers its thread cached for this client go back to the pool, as a client's own
        // threads gave theirs back when they ended (kept, they held 70 MiB more resident under the memory bench).
        loop.execute(PayloadPool::releaseThreadCache);
        onIdle.run();
    }

    /** The loop the link's connection, and the client it serves, are served on. */
    EventLoop loop() {
        return loop;
    }

    /**
     * The ledger has new work. With {@code more} it is written in a turn of the loop of its own, after everything
     * the loop found ready in this one, so that a batch of requests read from the client goes upstream in one
     * system call; without, now when the caller is on the loop. Null: the link itself has something to send (after
     * ESHUTDOWN).
     */
    void send(LinkSession s, boolean more) {
        if (s != null && session != s) {
            return;
        }
        if (!more && loop.inLoop()) {
            drain();
        } else {
            askDrain();
        }
    }

    /** The client wrote replies: if the connection stopped reading for it, it reads again. On the loop. */
    void written(LinkSession s) {
        UpstreamWire w = wire;
        if (w != null && session == s) {
            w.resume();
        }
    }

    /** Whether the connection has more requests waiting than its socket takes. On the loop. */
    boolean congested() {
        UpstreamWire w = wire;
        return w != null && w.isCongested();
    }

    private void askDrain() {
        if (drainAsked.compareAndSet(false, true)) {
            loop.execute(() -> {
                drainAsked.set(false);
                drain();
            });
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

    int inFlight() {
        synchronized (lock) {
            return session == null ? 0 : session.ledger().inFlight();
        }
    }

    /** The connection now in use, or null between connections. */
    Connection current() {
        synchronized (lock) {
            return connection != null && !connection.isFailed() ? connection : null;
        }
    }

    boolean isConnected() {
        synchronized (lock) {
            return connection != null && !connection.isFailed();
        }
    }

    /**
     * Called by the watchdog: gives the connection up when it owes the ledger something (answers, or writes) and
     * nothing has moved on it for {@code timeoutNanos}. A slow client is not counted: its replies are the ledger's.
     */
    void checkProgress(long nowNanos, long timeoutNanos) {
        Connection replay = replayingOn;
        if (replay != null && nowNanos - replay.channel.lastProgressNanos() > timeoutNanos) {
            replay.fail("no progress replaying the journal for " + timeoutNanos / 1_000_000_000L + " s", false);
        }
        synchronized (lock) {
            Connection c = connection;
            if (c == null) {
                return;
            }
            Binding b = c.binding();
            if (b != null && b.ledger().isBacklogged(ReplyPump.BACKLOG)) {
                return; // not read while the client is slow
            }
            int owed = b == null ? 0 : b.ledger().awaitedOn(b.token());
            if (c.journal() != null && c.journal().ownFlushOut()) {
                owed++; // its own FLUSH, which a DISCONNECT may wait for with no client left
            }
            long idle = nowNanos - c.channel.lastProgressNanos();
            if (owed > 0 && idle > timeoutNanos) {
                c.fail("no progress for " + idle / 1_000_000_000L + " s with " + owed + " requests outstanding",
                        false);
            }
        }
    }

    void close() {
        synchronized (lock) {
            // A DISCONNECT passed on by a stopping client goes out before the connection is closed.
            long deadline = System.currentTimeMillis() + 1000;
            while (disconnectWaiting() && System.currentTimeMillis() < deadline) {
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
        loop.stop();
        try {
            loopThread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Under the lock. */
    private boolean disconnectWaiting() {
        Connection c = connection;
        if (c == null || c.isFailed()) {
            return false;
        }
        Binding b = c.binding();
        return leftDisconnect != null || (b != null && b.ledger().hasDisconnect());
    }

    /**
     * The connecting thread: makes a connection ready (connects, negotiates, writes the journal again when due),
     * hands it to the loop, and waits for it to end; then the next.
     */
    private void run(Connection first) throws InterruptedException {
        Connection next = first;
        boolean lost = false;
        while (!isClosed()) {
            boolean fresh = next != null;
            Connection c = fresh ? next : reconnector.next();
            next = null;
            if (c == null) {
                return;
            }
            if (!fresh && reconnector.attempts() > 1) {
                // The upstream was unreachable for a while: it may have restarted, losing what it had acknowledged,
                // even if the connection this link lost went quietly.
                onLoss.accept(journal.epoch());
            }
            String upstream = connectors.get().endpoint().toString();
            c.join(journal, upstream);
            if (!replayJournal(c)) {
                if (isClosed()) {
                    return;
                }
                lost = true;
                stats.failed(c.failure());
                LOG.warning("upstream " + connectors.get().endpoint() + " lost while the journal was replayed ("
                        + c.failure() + "); reconnecting");
                continue;
            }
            int resent = start(c);
            if (resent < 0) {
                return;
            }
            if (lost) {
                stats.reconnected(resent);
                LOG.info("reconnected to upstream " + connectors.get().endpoint() + " after "
                        + reconnector.attempts() + " attempts; retransmitting " + resent + " requests");
            }
            reconnector.connected();
            UpstreamWire w = new UpstreamWire(this, c, new ReplyPump(c, reference.contextIdMap(c.export), upstream));
            loop.execute(() -> adopt(w));
            try {
                c.awaitFailed();
            } finally {
                CountDownLatch let = new CountDownLatch(1);
                loop.execute(() -> {
                    if (wire == w) {
                        wire = null;
                    }
                    w.discard();
                    let.countDown();
                });
                // The loop lets the connection go before the ledger forgets it: no late reply after that.
                let.await(5, TimeUnit.SECONDS);
                if (!c.fence(FENCE_MILLIS)) {
                    LOG.warning("upstream " + connectors.get().endpoint() + " did not close a connection given up ("
                            + c.failure() + ") within " + FENCE_MILLIS / 1000 + " s; what it had read of its"
                            + " requests may still land after they are sent again");
                }
            }
            ended(c);
            reconnector.connectionEnded(c);
            if (replacedForJournal) {
                replacedForJournal = false;
                reconnector.replaced();
            }
            lost = !c.isQuiet();
            if (lost && !isClosed()) {
                stats.failed(c.failure());
                LOG.warning("upstream " + connectors.get().endpoint() + " lost (" + c.failure() + "); reconnecting");
                onLoss.accept(c.journal().epoch());
            }
            if (!isClosed() && c.journal().awaitsOwnFlush()) {
                // Ended before its own FLUSH made its writes durable, and no other connection's FLUSH counts for
                // them: ended quietly, or lost in an epoch already over (it replayed the journal, so owned all of
                // it). As after a loss, they are written again first, and then flushed, on the next connection.
                LOG.warning("upstream connection ended with acknowledged writes only its own FLUSH could make durable"
                        + " (no CAN_MULTI_CONN); the journal is written again on the next connection");
                onLoss.accept(journal.epoch());
            }
        }
    }

    /** On the loop: the connection is served from now on. */
    private void adopt(UpstreamWire w) {
        if (w.c.isFailed()) {
            return;
        }
        int unasked = w.c.servedByLoop();
        if (unasked > 0) {
            w.c.fail("the server sent " + unasked + " bytes nobody asked for", false);
            return;
        }
        try {
            w.register(loop);
        } catch (IOException e) {
            w.c.fail("cannot serve the connection: " + e.getMessage(), false);
            return;
        }
        wire = w;
        drain();
        w.read();
    }

    /**
     * Before a new connection sends anything: when the upstream may have lost acknowledged writes, one connection
     * writes the journal again, in order, and the others wait for it. False when {@code c} failed meanwhile.
     */
    private boolean replayJournal(Connection c) throws InterruptedException {
        while (journal.holding() && !c.isFailed()) {
            if (isClosed()) {
                c.fail("stopping", true);
                return false;
            }
            List<Request> writes = journal.beginReplay(c);
            if (writes == null) {
                journal.awaitRelease(100); // another connection replays
                continue;
            }
            boolean ok = false;
            long bytes = 0;
            replayingOn = c;
            try {
                bytes = JournalReplay.write(c, writes);
                ok = true;
            } catch (IOException e) {
                c.fail("replaying the journal: " + e.getMessage(), false);
            } finally {
                replayingOn = null;
                writes.forEach(Request::release);
                journal.replayEnded(c, ok);
            }
            if (ok && !writes.isEmpty()) {
                LOG.info("replayed " + writes.size() + " journalled writes (" + bytes + " bytes) to upstream "
                        + connectors.get().endpoint() + " before anything else");
            }
        }
        return !c.isFailed();
    }

    /** The journal's connections of epoch {@code e} are replaced: the upstream may have lost what it acknowledged. */
    void dropEpoch(long e) {
        synchronized (lock) {
            Connection c = connection;
            if (c != null && c.journal().epoch() <= e) {
                replacedForJournal = true;
                c.fail("another upstream connection was lost; the journal is replayed first", false);
            }
        }
    }

    /** The journal changed: a full one holds the client's writes back until the proxy's own FLUSH empties it. */
    void wake() {
        RequestLedger released = null;
        synchronized (lock) {
            Connection c = connection;
            Binding b = c == null ? null : c.binding();
            if (b != null) {
                boolean full = journal.isFull();
                if (b.ledger().writesHeld() && !full) {
                    released = b.ledger();
                }
                b.ledger().holdWrites(full);
            }
            lock.notifyAll();
        }
        askDrain();
        if (released != null) {
            loop.execute(released::announce); // the client's writes wait no longer: it reads them now
        }
    }

    /**
     * Makes {@code c} current, working for the attached client's ledger if there is one; returns how many requests
     * it is to send again, or -1 when the link was closed meanwhile (and {@code c} with it).
     */
    private int start(Connection c) {
        synchronized (lock) {
            if (closed) {
                c.fail("stopping", true);
                return -1;
            }
            connection = c;
            if (session == null) {
                return 0;
            }
            RequestLedger ledger = session.ledger();
            c.bind(new Binding(ledger, ledger.begin()));
            return ledger.queued();
        }
    }

    private void ended(Connection c) {
        synchronized (lock) {
            connection = null;
            Binding b = c.binding();
            c.bind(null);
            if (b != null) {
                b.ledger().release(b.token());
            }
        }
    }

    /** After the link's loop or its connecting thread failed: the connection is given up, and made again. */
    private void dropAfterFailure() {
        synchronized (lock) {
            if (connection != null) {
                connection.fail("the link's thread failed", false);
            }
        }
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /**
     * On the loop: writes what is due on the connection, in order: a departed client's DISCONNECT; after
     * ESHUTDOWN, the soft disconnect once everything sent is answered; the proxy's own FLUSH when the journal wants
     * one; and what the ledger queues, unless a replay of the journal holds everything back.
     */
    private void drain() {
        UpstreamWire w = wire;
        if (w == null || w.c.isFailed()) {
            return;
        }
        Connection c = w.c;
        try {
            if (w.isDisconnecting()) {
                w.flushOut();
                return;
            }
            Binding b;
            Request departed;
            synchronized (lock) {
                b = c.binding();
                departed = leftDisconnect;
                leftDisconnect = null;
            }
            if (departed != null) {
                if (flushFirst(w, b)) {
                    holdDisconnect(departed);
                    return;
                }
                disconnect(w, departed, "client disconnected; a fresh connection for the next one", true);
                return;
            }
            if (b != null && b.ledger().isRefusing(b.token())) {
                Request soft = b.ledger().softDisconnect(b.token());
                if (soft != null) {
                    disconnect(w, soft, "upstream is shutting down (ESHUTDOWN); disconnected once it had answered"
                            + " what it accepted", false);
                } else {
                    w.flushOut();
                }
                return;
            }
            if (b != null && b.ledger().awaitedOn(b.token()) == 0) {
                c.channel.touch(); // the upstream timeout counts from when something is outstanding
            }
            while (true) {
                if (c.journal().ownFlushDue(c.isRefusing(), b)) {
                    w.out.add(RequestCodec.header(c.journal().beginOwnFlush()));
                }
                Request next;
                if (b == null || journal.holding() || (next = b.ledger().nextToSend(b.token())) == null) {
                    break;
                }
                if (next.type() == Nbd.CMD_DISC) {
                    if (flushFirst(w, b)) {
                        holdDisconnect(next);
                        return;
                    }
                    disconnect(w, next, "client disconnected; a fresh connection for the next one", true);
                    return;
                }
                if (c.journal().clashesWithOwnFlush(next)) {
                    next.release();
                    // Its reply could not be told from the proxy's own FLUSH's: a fresh connection sends it.
                    c.fail("a client's cookie met the proxy's own FLUSH; replacing the connection", false);
                    return;
                }
                c.journal().writing(next);
                w.out.add(RequestCodec.header(next));
                if (next.type() == Nbd.CMD_WRITE) {
                    w.out.add(next.payload(), next.owner()); // the ledger's reference for this write, until written
                } else {
                    next.release();
                }
            }
            w.flushOut();
        } catch (IOException e) {
            c.fail("write failed: " + e.getMessage(), false);
        }
    }

    /**
     * Before a DISCONNECT: when writes acknowledged on this connection wait for a FLUSH only it can send (the upstream
     * has no CAN_MULTI_CONN), the proxy's own FLUSH goes first, and true says the DISCONNECT waits for its answer.
     * Not when a client's request of the same cookie is out: the connection then ends, and the journal is written
     * again on the next one ({@link #run}).
     */
    private boolean flushFirst(UpstreamWire w, Binding b) throws IOException {
        ConnectionJournal j = w.c.journal();
        if (!j.awaitsOwnFlush() || w.c.isRefusing()) {
            return false;
        }
        if (!j.ownFlushOut()) {
            if (b != null && b.ledger().lookup(b.token(), ConnectionJournal.OWN_FLUSH) != null) {
                return false;
            }
            w.out.add(RequestCodec.header(j.beginOwnFlush()));
        }
        w.flushOut();
        return true;
    }

    /** The DISCONNECT waits for the proxy's own FLUSH: sent first by the next drain once that is answered. */
    private void holdDisconnect(Request disc) {
        synchronized (lock) {
            if (leftDisconnect == null) {
                leftDisconnect = disc;
            } else {
                disc.release();
            }
        }
    }

    /**
     * Whether a DISCONNECT waits for the proxy's own FLUSH: its answer must wake the writer. On the loop, after every
     * read: no lock taken.
     */
    boolean disconnectHeld() {
        return leftDisconnect != null;
    }

    /** Writes {@code disc} and ends the connection once it is out: the one place a DISCONNECT goes upstream. */
    private void disconnect(UpstreamWire w, Request disc, String why, boolean quietly) throws IOException {
        w.c.disconnecting(why, quietly);
        w.out.add(RequestCodec.header(disc));
        disc.release();
        w.endAfterWriting(why, quietly);
        w.flushOut();
    }

    /** A DISCONNECT went out and the connection ended: the links wait no longer, a stopping one least of all. */
    void disconnected() {
        synchronized (lock) {
            lock.notifyAll();
        }
        wake();
    }

    /** The export the sessions see: the one of the first connection. */
    UpstreamExport export() {
        return reference.get();
    }
}
