package org.flexnbd.upstream;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.upstream.Connection.Binding;

/**
 * One upstream connection slot, kept alive for ever, working for one client's {@link RequestLedger} at a time. It is
 * only I/O: what to send, and what a reply means, is the ledger's to say. Its own thread connects and writes what
 * the ledger queues; a {@link ReplyReader} per connection, on a thread of its own, hands the ledger complete
 * replies. One connection's part in the write journal is its {@link ConnectionJournal}. A submitting client's
 * thread writes on the common path itself (no hand-over to the writer thread), when the socket is free.
 * <p>
 * No socket I/O happens under the link's lock: closing a connection under it only marks it failed and closes the
 * channel, which never blocks.
 */
final class UpstreamLink {
    private static final Logger LOG = Logger.getLogger(UpstreamLink.class.getName());

    private final String name;
    private final Supplier<Connector> connectors;
    private final ReferenceExport reference;
    private final Stats stats;
    private final Reconnector reconnector;
    private final Runnable onIdle;
    private final WriteJournal journal;
    private final LongConsumer onLoss;

    private final Object lock = new Object();
    /** Held by whoever writes to the connection's output: the writer thread, or a submitting client thread. */
    private final ReentrantLock sending = new ReentrantLock();
    private Connection connection;
    private LinkSession session;
    /** A DISCONNECT left by a client that has gone: sent before anything of the next client's. */
    private Request leftDisconnect;
    private boolean closed;
    /** The connection writing the journal again, before it starts: watched for progress like a started one. */
    private volatile Connection replayingOn;
    private final Thread thread;

    /**
     * @param onLoss told the journal epoch of a connection lost while the upstream may have lost acknowledged writes
     */
    UpstreamLink(String name, Supplier<Connector> connectors, ReferenceExport reference, Stats stats, long maxDelayMillis,
            Connection first, Runnable onIdle, WriteJournal journal, LongConsumer onLoss) {
        this.name = name;
        this.journal = journal;
        this.onLoss = onLoss;
        this.connectors = connectors;
        this.reference = reference;
        this.stats = stats;
        this.reconnector = new Reconnector(connectors, reference, stats, maxDelayMillis, this::isClosed);
        this.onIdle = onIdle;
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
        synchronized (lock) {
            session = new LinkSession(this, ledger);
            Connection c = connection;
            if (c != null && !c.isFailed()) {
                c.bind(new Binding(ledger, ledger.begin()));
                lock.notifyAll(); // the writer sends what the ledger had in flight elsewhere
            }
            ledger.holdWrites(journal.isFull());
            return session;
        }
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
                    lock.notifyAll();
                } else if (late > 0) {
                    c.fail("client left with " + late + " requests outstanding; replacing the connection", true);
                } else if (c.isRefusing()) {
                    c.fail("the upstream is shutting down (ESHUTDOWN); replacing the connection", true);
                }
            }
        }
        onIdle.run();
    }

    /**
     * The ledger has new work: written on the caller's thread when the connection is up and nobody else is writing,
     * else handed to the writer thread.
     */
    void send(LinkSession s, boolean more) {
        Connection c;
        Binding b;
        synchronized (lock) {
            c = connection;
            b = c == null ? null : c.binding();
            if (session != s || b == null || c.isFailed()) {
                return; // a reconnect, or the next link, sends it
            }
            if (leftDisconnect != null || !sending.tryLock()) {
                lock.notifyAll();
                return;
            }
        }
        try {
            if (!drain(c, b) && !more) {
                c.out.flush();
            }
        } catch (IOException e) {
            c.fail("write failed: " + e.getMessage(), false);
        } finally {
            sending.unlock();
        }
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
            Binding b = c == null ? null : c.binding();
            if (b == null || b.ledger().awaitedOn(b.token()) == 0 || b.ledger().isBacklogged(ReplyReader.BACKLOG)) {
                return;
            }
            long idle = nowNanos - c.channel.lastProgressNanos();
            if (idle > timeoutNanos) {
                c.fail("no progress for " + idle / 1_000_000_000L + " s with " + b.ledger().awaitedOn(b.token())
                        + " requests outstanding", false);
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
            Thread reader = new Thread(() -> {
                try {
                    new ReplyReader(c, reference.contextIdMap(c.export), this::wake, upstream).run();
                } finally {
                    PayloadPool.releaseThreadCache(); // a thread per connection: its cache must not outlive it
                }
            }, name + "-reader");
            reader.setDaemon(true);
            reader.start();
            write(c);
            reader.join();
            ended(c);
            reconnector.connectionEnded(c);
            lost = !c.isQuiet();
            if (lost && !isClosed()) {
                stats.failed(c.failure());
                LOG.warning("upstream " + connectors.get().endpoint() + " lost (" + c.failure() + "); reconnecting");
                onLoss.accept(c.journal().epoch());
            }
        }
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
                c.fail("another upstream connection was lost; the journal is replayed first", false);
            }
        }
    }

    /** The journal changed: a full one holds the client's writes back until the proxy's own FLUSH empties it. */
    void wake() {
        synchronized (lock) {
            Connection c = connection;
            Binding b = c == null ? null : c.binding();
            if (b != null) {
                b.ledger().holdWrites(journal.isFull());
            }
            lock.notifyAll();
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

    /** After the link's thread failed: its connection is given up; the restart reconnects and retransmits. */
    private void dropAfterFailure() {
        synchronized (lock) {
            if (connection != null) {
                connection.fail("the link's thread failed", false);
                ended(connection);
            }
        }
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /**
     * The writer thread: sends what the ledger queues when no client thread does (retransmissions, requests that
     * met a busy socket), and a departed client's DISCONNECT; after ESHUTDOWN, the soft disconnect.
     */
    private void write(Connection c) {
        try {
            while (true) {
                Binding b;
                boolean departed;
                synchronized (lock) {
                    while (!c.isFailed() && !closed && leftDisconnect == null && !(hasWork(c) && !held())
                            && !ownFlushDue(c)) {
                        lock.wait();
                    }
                    if (c.isFailed() || closed) {
                        return;
                    }
                    b = c.binding();
                    departed = leftDisconnect != null;
                }
                if (departed) {
                    sendLeftDisconnect(c);
                    return;
                }
                if (b == null) {
                    sending.lock();
                    try {
                        drainOwnFlush(c);
                    } finally {
                        sending.unlock();
                    }
                    continue;
                }
                if (b.ledger().isRefusing(b.token())) {
                    Request soft = b.ledger().softDisconnect(b.token());
                    if (soft != null) {
                        disconnect(c, soft, "upstream is shutting down (ESHUTDOWN); disconnected once it had"
                                + " answered what it accepted", false);
                        return;
                    }
                    continue;
                }
                sending.lock();
                try {
                    if (drain(c, b)) {
                        return;
                    }
                    c.out.flush();
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

    /**
     * A departed client's DISCONNECT. Taken with {@link #sending} held: a client thread that finds the socket free
     * must also find the DISCONNECT gone, or it could write the next client's requests before it.
     */
    private void sendLeftDisconnect(Connection c) throws IOException {
        sending.lock();
        try {
            Request disc;
            synchronized (lock) {
                disc = leftDisconnect;
                leftDisconnect = null;
            }
            disconnect(c, disc, "client disconnected; a fresh connection for the next one", true);
        } finally {
            sending.unlock();
        }
    }

    /**
     * New requests wait while the journal is replayed. (While it is full, the clients' writes wait in their
     * sockets instead: see {@link #wake()}.)
     */
    private boolean held() {
        return journal.holding();
    }

    private static boolean ownFlushDue(Connection c) {
        return c.journal().ownFlushDue(c.isRefusing(), c.binding());
    }

    /** Under the lock. */
    private static boolean hasWork(Connection c) {
        Binding b = c.binding();
        return b != null && b.ledger().hasWork(b.token());
    }

    /**
     * Writes what the ledger gives, with {@link #sending} held; true when that was the client's DISCONNECT, after
     * which the connection is done.
     */
    private boolean drain(Connection c, Binding b) throws IOException {
        if (b == null) {
            return false;
        }
        if (b.ledger().awaitedOn(b.token()) == 0) {
            c.channel.touch(); // the upstream timeout counts from when something is outstanding
        }
        Request next;
        while (true) {
            drainOwnFlush(c);
            if (held() || (next = b.ledger().nextToSend(b.token())) == null) {
                return false;
            }
            if (next.type() == Nbd.CMD_DISC) {
                disconnect(c, next, "client disconnected; a fresh connection for the next one", true);
                return true;
            }
            try {
                if (c.journal().clashesWithOwnFlush(next)) {
                    // Its reply could not be told from the proxy's own FLUSH's: a fresh connection sends it.
                    c.fail("a client's cookie met the proxy's own FLUSH; replacing the connection", false);
                    return true;
                }
                c.journal().writing(next);
                RequestCodec.write(c.out, next);
            } finally {
                next.release(); // the ledger's reference for this write
            }
        }
    }

    /**
     * The proxy's own FLUSH, when one is due; with {@link #sending} held. Any connection takes its part, serving a
     * client or not.
     */
    private void drainOwnFlush(Connection c) throws IOException {
        if (ownFlushDue(c)) {
            RequestCodec.write(c.out, c.journal().beginOwnFlush());
            c.out.flush();
        }
    }

    /** Writes {@code disc} and ends the connection: the one place a DISCONNECT goes upstream. */
    private void disconnect(Connection c, Request disc, String why, boolean quietly) throws IOException {
        sending.lock(); // reentrant: drain and sendLeftDisconnect hold it already
        try {
            c.disconnecting(why, quietly);
            RequestCodec.write(c.out, disc);
            c.out.flush();
        } finally {
            sending.unlock();
        }
        c.fail(why, quietly);
        wake();
    }

    /** The export the sessions see: the one of the first connection. */
    UpstreamExport export() {
        return reference.get();
    }
}
