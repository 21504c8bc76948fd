package org.flexnbd.upstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Map;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.ProtocolViolation;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.loop.Inbound;
import org.flexnbd.protocol.service.RequestLedger.Answer;
import org.flexnbd.upstream.Connection.Binding;

/**
 * The replies of one upstream connection, read on its link's loop as they arrive: each is assembled and checked
 * against its request, the write journal sees it before the client may, and the complete ones go to the ledger of
 * the client the connection works for. It never writes to a client: the ledger tells the client's writer. Whatever
 * the server does wrong fails the connection, so that what it left unanswered is sent again.
 */
final class ReplyPump {
    /**
     * Reply bytes a client may have waiting to be written before this stops reading: beyond it, replies wait in the
     * upstream's socket, not in pooled memory (their budget is charged either way). 2 MiB, measured in interleaved
     * runs against 512 KiB when a thread of its own read the replies: nbdcopy reads (256 KiB replies, 64 in flight)
     * 1.20 times the throughput for 0.82 to 0.87 of the CPU; fio's 1 MiB reads at QD16 lost up to a few per cent,
     * where 4 MiB cost them 15% and 16 MiB 20% (docs/BENCHMARKS.md, the reply backlog).
     */
    static final long BACKLOG = 2L << 20;

    private final Connection c;
    private final ConnectionJournal journal;
    private final ReplyAssembler assembler;
    private final Inbound in = new Inbound(Connection.BUFFER, PayloadPool.shared());
    private final String upstream;
    /** The header read whose payload is on its way; null between replies. */
    private ReplyCodec.Head head;
    /**
     * Whom the last message read answers, and its request as written: found with its header ({@link #awaited}),
     * under the binding the request was written for (null for the proxy's own FLUSH). Not necessarily the client
     * served now: one that moved to another link or left may still be owed replies, which are read past and dropped.
     */
    private Binding owner;
    private Request request;
    /** What {@link #awaited} found last, for {@link #next} to keep with the header. */
    private Binding foundOwner;

    /**
     * @param contextIds this connection's metadata context ids to the ones the clients were given, where they differ
     * @param upstream the upstream's name, for the log
     */
    ReplyPump(Connection c, Map<Integer, Integer> contextIds, String upstream) {
        this.c = c;
        this.journal = c.journal(); // joined before anything was written on it
        this.assembler = new ReplyAssembler(ReplyValidator.of(c.export), contextIds);
        this.upstream = upstream;
    }

    /** What a turn of reading found. */
    enum Outcome {
        /** Everything that had arrived was read. */
        DRAINED,
        /** The client has {@link #BACKLOG} to write: read no more until it has written some. */
        BACKLOGGED,
        /** The connection failed (its reason is in it). */
        ENDED
    }

    /**
     * Reads and handles every reply that has arrived. Tells the ledger of the client served, once, when any was
     * answered. Sets {@code refusing} on the connection after ESHUTDOWN; the caller then lets its writer decide.
     */
    Outcome readable(ReadableByteChannel from) {
        Binding told = null;
        boolean read = false;
        try {
            while (!c.isFailed()) {
                if (read && head == null && in.buffered() == 0 && c.owesNoReply()) {
                    // Nothing more can come but the server's end, which the selector tells: asking the socket
                    // again would cost a system call per request at QD1 (TLS excepted: its records may hold more).
                    return Outcome.DRAINED;
                }
                read = true;
                ReplyMessage m = next(from);
                if (m == null) {
                    if (in.isEnded() || in.isTruncated()) {
                        c.fail("the server closed the connection", false);
                        return Outcome.ENDED;
                    }
                    return Outcome.DRAINED;
                }
                Binding b = owner;
                Request request = this.request;
                Reply complete = assembler.add(m, request);
                if (complete == null) {
                    continue;
                }
                if (journal.isOwnFlush(request)) {
                    if (!journal.ownFlushAnswered(complete)) {
                        // A server going away (nbdkit on SIGTERM) answers everything with ESHUTDOWN: until the
                        // journal is on a server that made it durable, it is written again after the reconnect.
                        c.fail("upstream is shutting down (ESHUTDOWN) before making the journal durable; it is"
                                + " written again on the next connection", false);
                        return Outcome.ENDED;
                    }
                    continue;
                }
                if (complete.error() == Nbd.ESHUTDOWN) {
                    complete.release();
                    refused(b, complete.cookie());
                    told = b;
                    continue;
                }
                Answer a = journal.answered(b, request, complete);
                if (a == Answer.WITHHELD) {
                    // Acknowledged on a connection whose epoch ended: the journal is being replayed, and this write
                    // must come after it, so it is not an answer yet; the next connection sends it again.
                    c.fail("an acknowledgement arrived after an upstream loss; the write is sent again after the"
                            + " journal", false);
                    return Outcome.ENDED;
                }
                if (a == Answer.ANSWERED) {
                    c.delivered();
                    told = b;
                    if (b.ledger().isBacklogged(BACKLOG)) {
                        return Outcome.BACKLOGGED;
                    }
                }
            }
            return Outcome.ENDED;
        } catch (NbdException | ProtocolViolation e) {
            // The server broke the protocol: it is a failed connection, and what it left unanswered is sent again.
            c.fail("protocol violation: " + e.getMessage(), false);
            return Outcome.ENDED;
        } catch (IOException e) {
            c.fail(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), false);
            return Outcome.ENDED;
        } finally {
            if (told != null) {
                told.ledger().announce();
            }
        }
    }

    /** The next whole message, or null when it has not all arrived. */
    private ReplyMessage next(ReadableByteChannel from) throws IOException {
        if (head == null) {
            if (!in.has(from, 4)) {
                return null;
            }
            ByteBuffer peek = in.peek();
            int length = ReplyCodec.headerLength(peek.getInt(peek.position()));
            if (!in.has(from, length)) {
                return null;
            }
            ReplyCodec.Head h = ReplyCodec.head(in.peek(), this::awaited, Nbd.MAX_PAYLOAD);
            in.skip(length);
            owner = foundOwner;
            request = h.request();
            if (!h.carriesData()) {
                return ReplyCodec.complete(h, null, null);
            }
            in.beginPayload(h.payloadLength());
            head = h;
        }
        if (!in.payloadRead(from)) {
            return null;
        }
        ReplyCodec.Head h = head;
        head = null;
        Inbound.Data payload = in.takePayload();
        return ReplyCodec.complete(h, payload.data(), payload.owner());
    }

    /**
     * The request a reply may answer: one written on this connection and not answered there yet, for the client
     * served now or for one the link let go of meanwhile ({@link Connection#letGo}); {@link #foundOwner} says which.
     * Null for anything else, such as a second reply to a request, which the codec and the rules refuse.
     */
    private Request awaited(long cookie) {
        foundOwner = null;
        Request own = journal.awaitedOwnFlush(cookie);
        if (own != null) {
            return own;
        }
        Connection.Awaited a = c.awaited(cookie);
        if (a == null) {
            return null;
        }
        foundOwner = a.owner();
        return a.request();
    }

    /**
     * The server is going away (ESHUTDOWN): the ledger queues the request for the next connection, and nothing more
     * is sent on this one; the writer disconnects once everything else sent on it is answered (a soft disconnect,
     * as the spec asks), or the watchdog gives the connection up if those answers never come.
     */
    private void refused(Binding b, long cookie) {
        if (!c.isRefusing()) {
            UpstreamLink.LOG.warning("upstream " + upstream + " is shutting down (ESHUTDOWN): waiting for the answers"
                    + " to what it accepted, then reconnecting");
        }
        b.ledger().refused(b.token(), cookie);
        c.refuse();
    }

    /** The connection is gone: a reply half read and half assembled goes back. */
    void discard() {
        in.discardPayload();
        assembler.discard();
    }
}
