package org.flexnbd.itests.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * A TCP relay on 127.0.0.1 to another port that holds each new connection for a while before it passes anything on:
 * a server slow to answer, so that a test can act while the proxy waits for its hello.
 */
final class DelayingRelay implements AutoCloseable {
    final int port;
    private final ServerSocketChannel server;
    private final List<SocketChannel> sockets = new ArrayList<>();
    private final Thread acceptor;

    DelayingRelay(int targetPort, long delayMillis) throws IOException {
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        acceptor = new Thread(() -> {
            try {
                while (true) {
                    SocketChannel client = server.accept();
                    remember(client);
                    Thread held = new Thread(() -> relay(client, targetPort, delayMillis), "delaying-relay-hold");
                    held.setDaemon(true);
                    held.start();
                }
            } catch (IOException closed) {
                // the relay is closed
            }
        }, "delaying-relay");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** One connection: held, then passed on both ways; closed when the target cannot be reached. */
    private void relay(SocketChannel client, int targetPort, long delayMillis) {
        try {
            Thread.sleep(delayMillis);
            SocketChannel target = remember(SocketChannel.open(new InetSocketAddress("127.0.0.1", targetPort)));
            pump(client, target);
            pump(target, client);
        } catch (IOException | InterruptedException e) {
            try {
                client.close();
            } catch (IOException ignored) {
                // it is gone either way
            }
        }
    }

    private SocketChannel remember(SocketChannel s) {
        synchronized (sockets) {
            sockets.add(s);
        }
        return s;
    }

    private static void pump(SocketChannel from, SocketChannel to) {
        Thread t = new Thread(() -> {
            ByteBuffer b = ByteBuffer.allocate(1 << 16);
            try {
                while (from.read(b) >= 0) {
                    b.flip();
                    while (b.hasRemaining()) {
                        to.write(b);
                    }
                    b.clear();
                }
                to.shutdownOutput();
            } catch (IOException closed) {
                // one side went: the other is closed with the relay
            }
        }, "delaying-relay-pump");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        server.close();
        acceptor.interrupt();
        synchronized (sockets) {
            for (SocketChannel s : sockets) {
                s.close();
            }
        }
    }
}
