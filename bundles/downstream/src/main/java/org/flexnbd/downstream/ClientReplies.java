package org.flexnbd.downstream;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.loop.Outbound;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.RequestLedger.Delivery;
import org.flexnbd.protocol.tls.StartTlsChannel;

/**
 * The replies on their way to a client's socket: the ledger's answers, as the client negotiated them, and those the
 * proxy makes itself. An answer's memory, and its budget, go back to the ledger only once all of it is on the socket.
 * On the loop hosting the client.
 */
final class ClientReplies {
    private static final Logger LOG = Logger.getLogger(ClientReplies.class.getName());

    private final String peer;
    private final StartTlsChannel wire;
    private final RequestLedger ledger;
    private final ReplyTranslation translation;
    private final ReadAhead readAhead;
    private final LongConsumer relayed;
    private final Runnable answersWritten;
    private final Outbound out = new Outbound();
    /** The ledger's answers encoded on {@link #out}: held, and their budget charged, until it is all written. */
    private final List<Delivery> unwritten = new ArrayList<>();
    /** Since when replies have waited for the client to take them; 0 while it takes them. */
    private volatile long stalledSince;

    /**
     * @param relayed told the payload bytes of each request and its answer, before the client can see the answer
     * @param answersWritten told when answers from the upstream are all on the socket: an upstream connection that
     *            stopped reading for this client reads on
     */
    ClientReplies(String peer, StartTlsChannel wire, RequestLedger ledger, ReplyTranslation translation,
            ReadAhead readAhead, LongConsumer relayed, Runnable answersWritten) {
        this.peer = peer;
        this.wire = wire;
        this.ledger = ledger;
        this.translation = translation;
        this.readAhead = readAhead;
        this.relayed = relayed;
        this.answersWritten = answersWritten;
    }

    /** Queues what the ledger has answered, translated for the client. */
    void takeAnswered() {
        Delivery d;
        while ((d = ledger.takeAnswered()) != null) {
            Reply reply = translated(d);
            relayed.accept(d.asked().payloadLength() + reply.payloadBytes());
            ReplyCodec.encode(reply, out);
            readAhead.answered(d.asked());
            unwritten.add(d);
        }
    }

    private Reply translated(Delivery d) {
        try {
            return translation.toClient(d.asked(), d.sent(), d.reply(), readAhead, d.generation());
        } catch (RuntimeException malformed) {
            // The request is answered in the ledger: it must still get an answer on the wire.
            LOG.log(Level.WARNING, "client " + peer + ": unusable upstream reply to " + d.asked(), malformed);
            return translation.error(d.asked().cookie(), Nbd.EIO);
        }
    }

    /** Queues a reply the proxy makes itself (an error, a read-ahead answer): on the heap, nothing to hold. */
    void add(Reply reply) {
        ReplyCodec.encode(reply, out);
    }

    /**
     * Writes what the socket takes now; true when everything queued is written, and the answers among it are given
     * back to the ledger. Throws when the client is gone.
     */
    boolean writeOut() throws IOException {
        long before = out.pending();
        if (!out.writeTo(wire)) {
            if (out.pending() < before || stalledSince == 0) {
                stalledSince = System.nanoTime(); // it took some, or it just began to wait
            }
            return false;
        }
        stalledSince = 0;
        if (!unwritten.isEmpty()) {
            for (Delivery d : unwritten) {
                d.reply().release(); // what was sent from it has been written out
                ledger.written(d);
            }
            unwritten.clear();
            answersWritten.run();
        }
        return true;
    }

    boolean isEmpty() {
        return out.isEmpty();
    }

    /** Bytes queued and not yet written. */
    long pending() {
        return out.pending();
    }

    /** Nanoseconds replies have waited for the client at {@code nowNanos}; 0 when it takes them. Any thread. */
    long stalledNanos(long nowNanos) {
        long s = stalledSince;
        return s == 0 ? 0 : nowNanos - s;
    }

    /** The client has gone: everything queued goes back. */
    void discard() {
        out.discard();
        for (Delivery d : unwritten) {
            d.reply().release();
        }
        unwritten.clear();
    }
}
