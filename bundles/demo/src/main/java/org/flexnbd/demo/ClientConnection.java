package org.flexnbd.demo;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.ServerHandshake;
import org.flexnbd.protocol.ServerOffer;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/** One client, served on its own thread: the newstyle handshake, then its requests in order until it leaves. */
final class ClientConnection implements Runnable {
    private static final Logger LOG = Logger.getLogger(ClientConnection.class.getName());
    private static final int BUFFER = 64 * 1024;

    private final SocketChannel channel;
    private final MemoryExport export;
    private final ServerOffer offer;
    private final Runnable onExit;

    ClientConnection(SocketChannel channel, MemoryExport export, ServerOffer offer, Runnable onExit) {
        this.channel = channel;
        this.export = export;
        this.offer = offer;
        this.onExit = onExit;
    }

    @Override
    public void run() {
        try (SocketChannel c = channel) {
            serve();
        } catch (NbdException e) {
            LOG.log(Level.FINE, "demo: closing a client that broke the protocol: " + e.getMessage());
        } catch (IOException e) {
            LOG.log(Level.FINE, "demo: client connection ended: " + e);
        } finally {
            onExit.run();
        }
    }

    private void serve() throws IOException {
        WireInput in = new WireInput(channel, BUFFER);
        WireOutput out = new WireOutput(channel, BUFFER);
        ClientAgreement agreement = ServerHandshake.newstyle(in, out, offer);
        if (agreement == null) {
            return; // the client aborted the negotiation
        }
        ReplyWriter replies = new ReplyWriter(out, agreement.structuredReplies());
        Commands commands = new Commands(export, agreement, replies);
        while (true) {
            Request request;
            try {
                request = RequestCodec.read(in, Nbd.MAX_PAYLOAD);
            } catch (NbdException e) {
                if (e.isFatal()) {
                    throw e;
                }
                replies.error(e.cookie(), e.error(), e.getMessage());
                continue;
            }
            if (request == null || request.type() == Nbd.CMD_DISC) {
                return; // requests are answered in order, so none is outstanding
            }
            commands.execute(request);
        }
    }
}
