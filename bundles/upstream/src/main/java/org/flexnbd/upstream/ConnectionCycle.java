package org.flexnbd.upstream;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.logging.Logger;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.service.WriteJournal;

/**
 * The life of a link's connections, one after another, on the link's connecting thread: makes a connection ready
 * (connects, negotiates, writes the journal again when due), hands it to the link's loop, waits for it to end, and
 * says what its end means for the journal; then the next, for as long as the link lives. All of it blocks, so none
 * of it runs on the loop.
 */
final class ConnectionCycle {
    private static final Logger LOG = Logger.getLogger(ConnectionCycle.class.getName());
    /** How long a connection given up may take to close its end before its requests are sent again elsewhere. */
    static final long FENCE_MILLIS = 5000;

    private final UpstreamLink link;
    private final Supplier<Connector> connectors;
    private final ReferenceExport reference;
    private final Stats stats;
    private final Reconnector reconnector;
    private final WriteJournal journal;
    private final LongConsumer onLoss;
    /** The connection writing the journal again, before it starts: watched for progress like a started one. */
    private volatile Connection replayingOn;
    /** The connection was given up for the journal's sake, not for an upstream fault: no pause before the next. */
    private volatile boolean replacedForJournal;

    /**
     * @param onLoss told the journal epoch of a connection lost while the upstream may have lost acknowledged writes
     */
    ConnectionCycle(UpstreamLink link, Supplier<Connector> connectors, ReferenceExport reference, Stats stats,
            Reconnector reconnector, WriteJournal journal, LongConsumer onLoss) {
        this.link = link;
        this.connectors = connectors;
        this.reference = reference;
        this.stats = stats;
        this.reconnector = reconnector;
        this.journal = journal;
        this.onLoss = onLoss;
    }

    /** Connections, from {@code first} (null: a new one) on, until the link is closed. */
    void run(Connection first) throws InterruptedException {
        Connection next = first;
        boolean lost = false;
        while (!link.isClosed()) {
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
            String upstream = endpoint();
            c.join(journal, upstream);
            if (!replayJournal(c)) {
                fence(c, upstream); // closed, once its server has closed it if the journal was written on it
                if (link.isClosed()) {
                    return;
                }
                lost = true;
                stats.failed(c.failure());
                LOG.warning("upstream " + upstream + " lost while the journal was replayed (" + c.failure()
                        + "); reconnecting");
                continue;
            }
            int resent = link.start(c);
            if (resent < 0) {
                fence(c, upstream);
                return;
            }
            if (lost) {
                stats.reconnected(resent);
                LOG.info("reconnected to upstream " + upstream + " after " + reconnector.attempts()
                        + " attempts; retransmitting " + resent + " requests");
            }
            reconnector.connected();
            try {
                serveUntilEnded(c, upstream);
            } finally {
                link.ended(c); // a stop interrupting the wait too: the ledgers forget what was owed on it
            }
            reconnector.connectionEnded(c);
            if (replacedForJournal) {
                replacedForJournal = false;
                reconnector.replaced();
            }
            lost = !c.isQuiet();
            if (lost && !link.isClosed()) {
                stats.failed(c.failure());
                // The connection's own server: after a retarget the connector names the next one.
                LOG.warning("upstream " + upstream + " lost (" + c.failure() + "); reconnecting");
                onLoss.accept(c.journal().epoch());
            }
            if (!link.isClosed() && c.journal().awaitsOwnFlush()) {
                // Ended before its own FLUSH made its writes durable, and no other connection's FLUSH counts for
                // them: ended quietly, or lost in an epoch already over (it replayed the journal, so owned all of
                // it). As after a loss, they are written again first, and then flushed, on the next connection.
                LOG.warning("upstream connection ended with acknowledged writes only its own FLUSH could make durable"
                        + " (no CAN_MULTI_CONN); the journal is written again on the next connection");
                onLoss.accept(journal.epoch());
            }
        }
    }

    /**
     * The loop serves {@code c} until it fails; then the loop lets it go, and it is fenced: its requests may be sent
     * again only once the server has stopped carrying out what it read of them.
     */
    private void serveUntilEnded(Connection c, String upstream) throws InterruptedException {
        UpstreamWire w = new UpstreamWire(link, c, new ReplyPump(c, reference.contextIdMap(c.export), upstream));
        link.serve(w);
        try {
            c.awaitFailed();
        } finally {
            try {
                // The loop lets the connection go before the ledger forgets it: no late reply after that.
                link.letGo(w);
            } catch (InterruptedException stopping) {
                Thread.currentThread().interrupt(); // the fence below then only closes
            }
            // Whatever happened above, the socket is closed here: a link closed by a connector switch interrupts
            // this thread, and its connections' sockets stayed open, one per client and switch (a tester's find).
            fence(c, upstream);
        }
    }

    private static void fence(Connection c, String upstream) {
        if (!c.fence(FENCE_MILLIS)) {
            warnUnfenced(c, upstream);
        }
    }

    private static void warnUnfenced(Connection c, String upstream) {
        LOG.warning("upstream " + upstream + " did not close a connection given up (" + c.failure() + ") within "
                + FENCE_MILLIS / 1000 + " s; what it had read of its requests may still land after they are sent"
                + " again");
    }

    /**
     * Before a new connection sends anything: when the upstream may have lost acknowledged writes, one connection
     * writes the journal again, in order, and the others wait for it. False when {@code c} failed meanwhile.
     */
    private boolean replayJournal(Connection c) {
        while (journal.holding() && !c.isFailed()) {
            if (link.isClosed()) {
                c.fail("stopping", true);
                return false;
            }
            List<Request> writes = journal.beginReplay(c);
            if (writes == null) {
                try {
                    journal.awaitRelease(100); // another connection replays
                } catch (InterruptedException stopping) {
                    Thread.currentThread().interrupt();
                    c.fail("stopping", true);
                    return false;
                }
                continue;
            }
            boolean ok = false;
            long bytes = 0;
            // Marked under the link's lock: a stop either comes first, or sees the replay and lets its fence run.
            if (!link.ifOpen(() -> {
                c.replaying();
                replayingOn = c;
            })) {
                c.fail("stopping", true);
            }
            try {
                if (!c.isFailed()) {
                    bytes = JournalReplay.write(c, writes);
                    ok = true;
                }
            } catch (IOException e) {
                c.fail("replaying the journal: " + e.getMessage(), false);
            } finally {
                if (!ok) {
                    // Before another connection may write the journal again: a write of this one may be on its way,
                    // and could land after the copy, and after a newer write to the same blocks. Still marked as
                    // replaying meanwhile, so that a stop lets the fence run, and the watchdog bounds it.
                    fence(c, endpoint());
                }
                replayingOn = null;
                writes.forEach(Request::release);
                journal.replayEnded(c, ok);
            }
            if (ok && !writes.isEmpty()) {
                LOG.info("replayed " + writes.size() + " journalled writes (" + bytes + " bytes) to upstream "
                        + endpoint() + " before anything else");
            }
        }
        return !c.isFailed();
    }

    /** The watchdog's look at a replay: given up when nothing moved on its connection for {@code timeoutNanos}. */
    void checkReplay(long nowNanos, long timeoutNanos) {
        Connection replay = replayingOn;
        if (replay == null) {
            return;
        }
        if (!replay.isFailed()) {
            if (nowNanos - replay.channel.lastProgressNanos() > timeoutNanos) {
                replay.fail("no progress replaying the journal for " + timeoutNanos / 1_000_000_000L + " s", false);
            }
        } else if (nowNanos - replay.failedNanos() > TimeUnit.MILLISECONDS.toNanos(FENCE_MILLIS)) {
            // Shut for sending, its replay still waits for the server's answer or end: one that sends neither
            // within the fence's bound is closed, which ends the wait.
            warnUnfenced(replay, endpoint());
            replay.close();
        }
    }

    /** The connection writing the journal again now, or null. */
    Connection replaying() {
        return replayingOn;
    }

    /** The connection now ending is given up for the journal's sake: the next one is made without a pause. */
    void replacedForJournal() {
        replacedForJournal = true;
    }

    private String endpoint() {
        return connectors.get().endpoint().toString();
    }
}
