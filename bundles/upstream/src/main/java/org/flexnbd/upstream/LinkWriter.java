package org.flexnbd.upstream;

import java.io.IOException;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.upstream.Connection.Binding;

/**
 * What a link writes on its connection, on its loop, in order: a departed client's DISCONNECT; after ESHUTDOWN, the
 * soft disconnect once everything sent is answered; the proxy's own FLUSH when the journal wants one; and what the
 * client's ledger queues, unless a replay of the journal holds everything back. A DISCONNECT goes out only once
 * no write acknowledged on the connection waits for a FLUSH that only it can send.
 */
final class LinkWriter {
    /** The link's: a connection's binding and a departed client's DISCONNECT change together under it. */
    private final Object lock;
    private final WriteJournal journal;
    /**
     * A DISCONNECT left by a client that has gone, or one waiting for the proxy's own FLUSH: sent before anything of
     * the next client's. Written under the link's lock; volatile so that the loop may look at it after every read.
     */
    private volatile Request leftDisconnect;

    LinkWriter(Object lock, WriteJournal journal) {
        this.lock = lock;
        this.journal = journal;
    }

    /** Under the link's lock: the departing client's DISCONNECT, written before anything of the next client's. */
    void leave(Request disc) {
        leftDisconnect = disc;
    }

    /** On the loop: writes what is due on {@code w}'s connection, a live one. */
    void write(UpstreamWire w) {
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
                passOn(w, departed);
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
                if (c.journal().ownFlushDue(c.isRefusing(), c::awaitsReply)) {
                    w.out.add(RequestCodec.header(c.journal().beginOwnFlush()));
                }
                Request next;
                if (b == null || journal.holding() || (next = b.ledger().nextToSend(b.token())) == null) {
                    break;
                }
                if (next.type() == Nbd.CMD_DISC) {
                    passOn(w, next);
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
     * A client's DISCONNECT (its own, or one a departed client left): written now, or held until the proxy's own
     * FLUSH is answered ({@link #flushFirst}).
     */
    private void passOn(UpstreamWire w, Request disc) throws IOException {
        if (flushFirst(w)) {
            holdDisconnect(disc);
        } else {
            disconnect(w, disc, "client disconnected; a fresh connection for the next one", true);
        }
    }

    /**
     * Before a DISCONNECT: when writes acknowledged on this connection wait for a FLUSH only it can send (the upstream
     * has no CAN_MULTI_CONN), the proxy's own FLUSH goes first, and true says the DISCONNECT waits for its answer.
     * Not when a client's request of the same cookie is out: the connection then ends, and the journal is written
     * again on the next one ({@link ConnectionCycle}).
     */
    private boolean flushFirst(UpstreamWire w) throws IOException {
        ConnectionJournal j = w.c.journal();
        if (!j.awaitsOwnFlush() || w.c.isRefusing()) {
            return false;
        }
        if (!j.ownFlushOut()) {
            if (w.c.awaitsReply(ConnectionJournal.OWN_FLUSH)) {
                return false;
            }
            w.out.add(RequestCodec.header(j.beginOwnFlush()));
        }
        w.flushOut();
        return true;
    }

    /** The DISCONNECT waits for the proxy's own FLUSH: written first once that is answered. */
    private void holdDisconnect(Request disc) {
        synchronized (lock) {
            if (leftDisconnect == null) {
                leftDisconnect = disc;
            } else {
                disc.release();
            }
        }
    }

    /** Whether a DISCONNECT waits to be written: a departed client's, or one waiting for the proxy's own FLUSH. */
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
}
