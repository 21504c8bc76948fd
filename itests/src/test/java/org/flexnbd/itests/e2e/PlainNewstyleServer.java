package org.flexnbd.itests.e2e;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.flexnbd.protocol.Nbd;

/**
 * A fixed-newstyle NBD server without TLS, as an upstream looks after a downgrade: it answers every option with
 * NBD_REP_ERR_UNSUP and records every byte each connection sent it, to show what reached it in plain text.
 */
final class PlainNewstyleServer implements AutoCloseable {
    private final ServerSocketChannel server;
    private final List<byte[]> received = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    PlainNewstyleServer(int port) throws IOException {
        server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress("127.0.0.1", port));
        acceptor = new Thread(this::accept, "plain-newstyle-server");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** What each connection sent, in full, once it has closed. */
    List<byte[]> received() {
        return received;
    }

    private void accept() {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                received.add(serve(c));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private static byte[] serve(SocketChannel c) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        c.write(ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip());
        ByteBuffer b = ByteBuffer.allocate(65536);
        int answered = 0;
        while (c.read(b) >= 0) {
            b.flip();
            byte[] chunk = new byte[b.remaining()];
            b.get(chunk);
            all.write(chunk);
            b.clear();
            byte[] sofar = all.toByteArray();
            // After the 4 bytes of client flags, options of 16-byte headers: answer each whole one.
            while (sofar.length >= 4 + 16 * (answered + 1)) {
                ByteBuffer header = ByteBuffer.wrap(sofar, 4 + 16 * answered, 16);
                header.getLong();
                int option = header.getInt();
                c.write(ByteBuffer.allocate(20).putLong(Nbd.REPLY_MAGIC).putInt(option).putInt(Nbd.REP_ERR_UNSUP)
                        .putInt(0).flip());
                answered++;
            }
        }
        return all.toByteArray();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
