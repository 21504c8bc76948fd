package org.flexnbd.upstream;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.logging.Logger;

import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Request;
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
 * writing the journal again happen on a second thread ({@link ConnectionCycle}), which hands each ready connection
 * to the loop and waits for it to end. One connection's part in the write journal is its {@link ConnectionJournal}.
 * <p>
 * No socket I/O happens under the link's lock: closing a connection under it only marks it failed and closes the
 * channel, which never blocks.
 */
final class UpstreamLink {
    static final Logger LOG = Logger.getLogger(UpstreamLink.class.getName());

    private final String name;
    private final ReferenceExport reference;
    private final Runnable onIdle;
    private final WriteJournal journal;
    private final LinkWriter writer;
    private final ConnectionCycle cycle;

    private final Object lock = new Object();
    private final EventLoop loop;
    private final Thread loopThread;
    private final Thread thread;
    /** The connection the loop serves, with what it has read and has to write; the loop's alone. */
    private UpstreamWire wire;
    /** A turn of {@link #drain} is already asked for: requests admitted meanwhile go with it. */
    private final AtomicBoolean drainAsked = new AtomicBoolean();
    private Connection connection;
    private LinkSession session;
    private boolean closed;

    /**
     * @param onLoss told the journal epoch of a connection lost while the upstream may have lost acknowledged writes
     */
    UpstreamLink(String name, Supplier<Connector> connectors, ReferenceExport reference, Stats stats, long maxDelayMillis,
            Connection first, Runnable onIdle, WriteJournal journal, LongConsumer onLoss, Comeback comeback) {
        this.name = name;
        this.journal = journal;
        this.reference = reference;
        this.onIdle = onIdle;
        this.writer = new LinkWriter(lock, journal);
        Reconnector reconnector = new Reconnector(connectors, reference, stats, maxDelayMillis, this::isClosed,
                comeback);
        this.cycle = new ConnectionCycle(this, connectors, reference, stats, reconnector, journal, onLoss);
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
                cycle.run(c);
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
            ledger.claim(s);
            Connection c = connection;
            if (c != null && !c.isFailed()) {
                c.bind(new Binding(ledger, ledger.begin(s, this::askDrain)));
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
                c.bind(null); // kept among those let go: a reply already on its way is decoded, then dropped
                int late = b == null ? 0 : b.ledger().release(b.token());
                if (b != null && late == 0) {
                    c.settled(b);
                }
                Request disc = s.ledger().takeDisconnectOfDeparted();
                if (disc != null && !c.isFailed()) {
                    writer.leave(disc); // sent first; the connection is replaced after it anyway
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
        cycle.checkReplay(nowNanos, timeoutNanos);
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

    /**
     * Closes the link's connection and stops its threads; {@link #awaitClosed} waits for them (links stopped together
     * begin all at once, so that their fences run side by side). With {@code fence} (a connector replaced, its
     * clients moving to the next one), a connection being served or writing the journal again is fenced as on a
     * reconnect: what was written on it is sent again elsewhere only once its server has closed it, within
     * {@link ConnectionCycle#FENCE_MILLIS}. Without (the proxy stops, nobody sends anything again), it is closed at
     * once.
     */
    void beginClose(boolean fence) {
        boolean serving;
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
            // A connection served, or writing the journal again: the connecting thread's wait ends, then its fence
            // runs.
            Connection c = connection != null ? connection : cycle.replaying();
            serving = c != null;
            if (serving) {
                c.fail("stopping", true);
            }
            lock.notifyAll();
        }
        if (!fence || !serving) {
            thread.interrupt(); // connecting, or waiting to: nothing of it was sent
        }
    }

    /** Waits for the threads {@link #beginClose} stopped; the loop last, as the fence lets the connection go on it. */
    void awaitClosed() {
        try {
            thread.join(ConnectionCycle.FENCE_MILLIS + 2000);
            if (thread.isAlive()) {
                thread.interrupt(); // past every bound: a blocked read ends, closing its socket
                thread.join(1000);
            }
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
        return writer.disconnectHeld() || (b != null && b.ledger().hasDisconnect());
    }

    /** The loop serves {@code w}'s connection from now on. */
    void serve(UpstreamWire w) {
        loop.execute(() -> adopt(w));
    }

    /** The loop lets {@code w}'s connection go: no reply read on it after this returns (or 5 s have passed). */
    void letGo(UpstreamWire w) throws InterruptedException {
        CountDownLatch let = new CountDownLatch(1);
        loop.execute(() -> {
            if (wire == w) {
                wire = null;
            }
            w.discard();
            let.countDown();
        });
        let.await(5, TimeUnit.SECONDS);
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

    /** The journal's connections of epoch {@code e} are replaced: the upstream may have lost what it acknowledged. */
    void dropEpoch(long e) {
        synchronized (lock) {
            Connection c = connection;
            if (c != null && c.journal().epoch() <= e) {
                cycle.replacedForJournal();
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
    int start(Connection c) {
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
            long g = ledger.begin(session, this::askDrain);
            if (g < 0) {
                return 0; // the client is moving to another link: this one sends nothing more for it
            }
            c.bind(new Binding(ledger, g));
            return ledger.queued();
        }
    }

    /** The loop has let {@code c} go: nothing more is read on it, and every ledger it worked for forgets it. */
    void ended(Connection c) {
        List<Binding> owed;
        synchronized (lock) {
            connection = null;
            c.bind(null);
            owed = List.copyOf(c.letGo());
            owed.forEach(c::settled);
        }
        for (Binding b : owed) {
            b.ledger().forget(b.token()); // outside the lock: it may tell another link's writer to send
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

    boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /** Runs {@code r} under the link's lock unless the link is closed: what it marks, {@link #beginClose} sees. */
    boolean ifOpen(Runnable r) {
        synchronized (lock) {
            if (closed) {
                return false;
            }
            r.run();
            return true;
        }
    }

    /** On the loop: writes what is due on the connection. */
    private void drain() {
        UpstreamWire w = wire;
        if (w != null && !w.c.isFailed()) {
            writer.write(w);
        }
    }

    /**
     * Whether a DISCONNECT waits for the proxy's own FLUSH: its answer must wake the writer. On the loop, after every
     * read: no lock taken.
     */
    boolean disconnectHeld() {
        return writer.disconnectHeld();
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
