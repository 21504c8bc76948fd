package org.flexnbd.downstream;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.RequestLedger.Delivery;

/**
 * A client's reply writer, on a thread of its own: it writes the replies the ledger has, as the client negotiated
 * them, flushing when none is left at hand, and only then tells the ledger they are written (which gives their
 * budget back and lets a DISCONNECT go). So a slow client never holds up an upstream connection's reader. The
 * client's own thread writes through it too, for the replies the proxy makes itself.
 */
final class ReplyWriter implements Runnable {
    private static final Logger LOG = Logger.getLogger(ReplyWriter.class.getName());
    /** Replies written before a flush at the latest: their budget comes back only then. */
    private static final int FLUSH_EVERY = 16;

    private final String peer;
    private final RequestLedger ledger;
    private final WireOutput out;
    private final ReplyTranslation translation;
    private final ReadAhead readAhead;
    private final LongConsumer relayed;
    private final Runnable gone;

    /**
     * @param relayed told the payload bytes of each request and its reply, before the client can see the reply
     * @param gone called when no reply can reach the client any more: it must give back everything the client holds
     */
    ReplyWriter(String peer, RequestLedger ledger, WireOutput out, ReplyTranslation translation, ReadAhead readAhead,
            LongConsumer relayed, Runnable gone) {
        this.peer = peer;
        this.ledger = ledger;
        this.out = out;
        this.translation = translation;
        this.readAhead = readAhead;
        this.relayed = relayed;
        this.gone = gone;
    }

    @Override
    public void run() {
        List<Delivery> unflushed = new ArrayList<>();
        try {
            Delivery d;
            while ((d = ledger.awaitAnswered()) != null) {
                try {
                    Reply reply = translated(d);
                    relayed.accept(d.asked().payloadLength() + reply.payloadBytes());
                    synchronized (this) {
                        ReplyCodec.write(out, reply);
                    }
                } finally {
                    d.reply().release(); // what was sent from it has been written out, or never will be
                    readAhead.answered(d.asked());
                }
                unflushed.add(d);
                if (!ledger.hasAnswered() || unflushed.size() >= FLUSH_EVERY) {
                    synchronized (this) {
                        out.flush();
                    }
                    unflushed.forEach(ledger::written);
                    unflushed.clear();
                }
            }
        } catch (IOException e) {
            gone.run(); // a client that stopped reading and was closed, or that left
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            LOG.log(Level.SEVERE, "client " + peer + ": reply writer failed; closing the client", e);
            gone.run();
        } finally {
            PayloadPool.releaseThreadCache();
        }
    }

    /** A reply the proxy makes itself, written and flushed on the caller's thread, between the writer's replies. */
    synchronized void send(Reply reply) throws IOException {
        ReplyCodec.write(out, reply);
        out.flush();
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
}
