package org.flexnbd.upstream;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.util.logging.Level;

import org.flexnbd.protocol.loop.EventLoop;
import org.flexnbd.protocol.loop.Outbound;
import org.flexnbd.upstream.Connection.Binding;

/**
 * One upstream connection as its link's loop serves it: the replies read ({@link ReplyPump}), the requests waiting
 * for the socket to take them, and whether the socket is watched for reading (not while the client has a backlog
 * of replies to write) and for writing (only while requests wait). Used on the loop's thread only.
 */
final class UpstreamWire implements EventLoop.Handler {
    /**
     * Request bytes waiting for the socket beyond which the client reads no more requests: with an upstream slower
     * than the client, its requests wait in its own socket, as they did when a blocking write held its reader, and
     * the payload budget is a bound, not what is held (four clients writing to a 100 MiB/s upstream peaked at 306
     * MiB resident without it, 228 with the threads).
     */
    static final long CONGESTED = 2L << 20;

    final Connection c;
    final Outbound out = new Outbound();
    private final UpstreamLink link;
    private final ReplyPump pump;
    private SelectionKey key;
    private boolean backlogged;
    /** Set when a DISCONNECT is queued: the connection ends, for this reason, once it is written. */
    private String endWhy;
    private boolean endQuietly;

    UpstreamWire(UpstreamLink link, Connection c, ReplyPump pump) {
        this.link = link;
        this.c = c;
        this.pump = pump;
    }

    void register(EventLoop loop) throws IOException {
        key = loop.register(c.channel.socket(), SelectionKey.OP_READ, this);
    }

    @Override
    public void ready(int ops) throws IOException {
        if ((ops & SelectionKey.OP_WRITE) != 0) {
            flushOut();
        }
        if ((ops & SelectionKey.OP_READ) != 0) {
            read();
        }
    }

    @Override
    public void failed(Throwable cause) {
        UpstreamLink.LOG.log(Level.SEVERE, "upstream connection's loop handler failed", cause);
        c.fail("the loop failed: " + cause, false);
    }

    /** Reads what the server sent; after ESHUTDOWN the link's writer decides whether to disconnect now. */
    void read() {
        while (!backlogged && !c.isFailed()) {
            if (pump.readable(c.wire) != ReplyPump.Outcome.BACKLOGGED) {
                break;
            }
            // The replies read were handed to the client's writer on this very thread, which may have written them
            // all already: only a backlog still there stops the reading.
            if (isBacklogged()) {
                backlogged = true;
                interest();
            }
        }
        if (c.isRefusing() || link.disconnectHeld()) {
            link.send(null, true); // the writer decides: a DISCONNECT may have waited for what was just read
        }
    }

    private boolean isBacklogged() {
        Binding b = c.binding();
        return b != null && b.ledger().isBacklogged(ReplyPump.BACKLOG);
    }

    /** The client wrote replies: if reading waited for it, it goes on while there is room. */
    void resume() {
        if (!backlogged || isBacklogged()) {
            return;
        }
        backlogged = false;
        interest();
        read();
    }

    boolean isCongested() {
        return out.pending() > CONGESTED;
    }

    boolean isDisconnecting() {
        return endWhy != null;
    }

    void endAfterWriting(String why, boolean quietly) {
        endWhy = why;
        endQuietly = quietly;
    }

    /** Writes what the socket takes now; watches it for room while anything is left. */
    void flushOut() throws IOException {
        boolean wasCongested = isCongested();
        boolean done = out.writeTo(c.wire);
        if (wasCongested && !isCongested()) {
            Binding b = c.binding();
            if (b != null) {
                b.ledger().announce(); // a client that found the connection congested reads on
            }
        }
        if (done && endWhy != null) {
            c.fail(endWhy, endQuietly);
            link.disconnected();
            return;
        }
        interest(done);
    }

    private void interest() {
        interest(out.isEmpty());
    }

    private void interest(boolean written) {
        if (key == null || !key.isValid()) {
            return;
        }
        int ops = (backlogged ? 0 : SelectionKey.OP_READ) | (written ? 0 : SelectionKey.OP_WRITE);
        if (key.interestOps() != ops) {
            key.interestOps(ops);
        }
    }

    /** The connection ended: the loop lets its socket and its memory go. */
    void discard() {
        if (key != null) {
            key.cancel();
        }
        out.discard();
        pump.discard();
    }
}
