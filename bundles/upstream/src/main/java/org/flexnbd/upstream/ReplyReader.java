package org.flexnbd.upstream;

import java.io.IOException;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.ProtocolViolation;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;
import org.flexnbd.upstream.Connection.Binding;

/**
 * The reader of one upstream connection, on a thread of its own: it reads replies, assembles and checks them
 * against their requests, lets the write journal see each before the client may, and hands the complete ones to the
 * ledger of the client the connection works for. It never writes to a client. Whatever ends it fails the
 * connection, so that the link's writer, and the client, stop waiting on it.
 */
final class ReplyReader implements Runnable {
    private static final Logger LOG = Logger.getLogger(ReplyReader.class.getName());
    /**
     * Reply bytes a client may have waiting to be written before this reader stops reading: beyond it, replies wait
     * in the upstream's socket, not in pooled memory (their budget is charged either way). 2 MiB, measured in
     * interleaved runs against 512 KiB: nbdcopy reads (256 KiB replies, 64 in flight) 1.20 times the throughput for
     * 0.82 to 0.87 of the CPU, since with 512 KiB the reader stopped after every second reply and the writer had to
     * wake it. fio's 1 MiB reads at QD16 lost up to a few per cent (0.98 in one run, 0.93 in another in which 4 KiB
     * reads, which the bound cannot touch, came out at 0.97), where 4 MiB cost them 15% and 16 MiB 20%. When the
     * pool's thread caches kept 16 buffers up to 256 KiB, 2 MiB made the pool zero fresh chunks; with 32 up to 1 MiB
     * it no longer does.
     */
    static final long BACKLOG = 2L << 20;

    private final Connection c;
    private final ConnectionJournal journal;
    private final Map<Integer, Integer> contextIds;
    private final Runnable wakeWriter;
    private final String upstream;

    /**
     * @param contextIds this connection's metadata context ids to the ones the clients were given, where they differ
     * @param wakeWriter told when the writer may have something to do: the connection ended, or ESHUTDOWN came
     * @param upstream the upstream's name, for the log
     */
    ReplyReader(Connection c, Map<Integer, Integer> contextIds, Runnable wakeWriter, String upstream) {
        this.c = c;
        this.journal = c.journal(); // joined before anything was written on it
        this.contextIds = contextIds;
        this.wakeWriter = wakeWriter;
        this.upstream = upstream;
    }

    @Override
    public void run() {
        ReplyAssembler assembler = new ReplyAssembler(ReplyValidator.of(c.export), contextIds);
        try {
            while (!c.isFailed()) {
                ReplyMessage m = ReplyCodec.read(c.in, this::awaited, Nbd.MAX_PAYLOAD);
                Binding b = c.binding();
                Request request = awaited(m.cookie());
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
                        break;
                    }
                    continue;
                }
                if (!journal.answered(b, request, complete)) {
                    // Acknowledged on a connection whose epoch ended: the journal is being replayed, and this write
                    // must come after it, so it is not an answer yet; the next connection sends it again.
                    complete.release();
                    c.fail("an acknowledgement arrived after an upstream loss; the write is sent again after the"
                            + " journal", false);
                    break;
                }
                if (b == null) {
                    complete.release(); // its client has gone
                } else if (complete.error() == Nbd.ESHUTDOWN) {
                    complete.release();
                    refused(b, complete.cookie());
                } else if (b.ledger().answered(b.token(), complete)) {
                    c.delivered();
                    while (!c.isFailed() && !b.ledger().awaitRoom(b.token(), BACKLOG, 100)) {
                        c.channel.touch(); // a slow client is not the upstream's fault
                    }
                }
                if (c.isRefusing()) {
                    wakeWriter.run(); // the writer may disconnect now
                }
            }
        } catch (ProtocolViolation | NbdException e) {
            // The server broke the protocol: it is a failed connection, and what it left unanswered is sent again.
            c.fail("protocol violation: " + e.getMessage(), false);
        } catch (IOException e) {
            c.fail(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), false);
        } catch (InterruptedException e) {
            c.fail("stopping", true);
        } catch (RuntimeException | Error e) {
            // Whatever ends the reader must fail the connection: the writer, and the client, wait on it.
            LOG.log(Level.SEVERE, "reader failed", e);
            c.fail("reader failed: " + e, false);
        } finally {
            assembler.discard();
            wakeWriter.run();
        }
    }

    /**
     * The request a reply may answer: one sent on this connection and not answered there yet. Null for anything
     * else, such as a second reply to a request, which the codec and the rules refuse.
     */
    private Request awaited(long cookie) {
        Request own = journal.awaitedOwnFlush(cookie);
        if (own != null) {
            return own;
        }
        Binding b = c.binding();
        return b == null ? null : b.ledger().lookup(b.token(), cookie);
    }

    /**
     * The server is going away (ESHUTDOWN): the ledger queues the request for the next connection, and nothing more
     * is sent on this one; the writer disconnects once everything else sent on it is answered (a soft disconnect,
     * as the spec asks), or the watchdog gives the connection up if those answers never come.
     */
    private void refused(Binding b, long cookie) {
        if (!c.isRefusing()) {
            LOG.warning("upstream " + upstream + " is shutting down (ESHUTDOWN): waiting for the answers to what it"
                    + " accepted, then reconnecting");
        }
        b.ledger().refused(b.token(), cookie);
        c.refuse();
    }
}
