package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * A TCP relay on 127.0.0.1 to a server, whose connections open at a {@link #lag} carry what the proxy sends that much
 * later: a slow path to a server that still carries out a request after the proxy gave the connection up. Its end
 * (the proxy shutting its side) follows the data it lagged, as it would on a wire. Connections opened after are
 * passed on at once. Replies are never held.
 */
final class LaggingRelay implements AutoCloseable {
    final int port;
    private final int targetPort;
    private final ServerSocketChannel server;
    private final List<SocketChannel> sockets = new ArrayList<>();
    private final List<Pipe> pipes = new ArrayList<>();
    private final Thread acceptor;

    /** One direction of one connection. */
    private static final class Pipe {
        final SocketChannel from;
        final SocketChannel to;
        volatile long lagMillis;

        Pipe(SocketChannel from, SocketChannel to) {
            this.from = from;
            this.to = to;
        }

        void run() {
            ByteBuffer b = ByteBuffer.allocate(1 << 16);
            try {
                while (from.read(b) >= 0) {
                    long due = System.currentTimeMillis() + lagMillis;
                    for (long left = lagMillis; left > 0; left = due - System.currentTimeMillis()) {
                        Thread.sleep(left);
                    }
                    b.flip();
                    while (b.hasRemaining()) {
                        to.write(b);
                    }
                    b.clear();
                }
                to.shutdownOutput();
            } catch (IOException | InterruptedException closed) {
                // one side went: the other is closed with the relay
            }
        }
    }

    LaggingRelay(int targetPort) throws IOException {
        this.targetPort = targetPort;
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        acceptor = new Thread(this::accept, "lagging-relay");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private void accept() {
        try {
            while (true) {
                SocketChannel client = remember(server.accept());
                SocketChannel target;
                try {
                    target = remember(SocketChannel.open(new InetSocketAddress("127.0.0.1", targetPort)));
                } catch (IOException unreachable) {
                    client.close();
                    continue;
                }
                Pipe up = new Pipe(client, target);
                synchronized (pipes) {
                    pipes.add(up);
                }
                start(up);
                start(new Pipe(target, client));
            }
        } catch (IOException closed) {
            // the relay is closed
        }
    }

    private static void start(Pipe p) {
        Thread t = new Thread(p::run, "lagging-relay-pipe");
        t.setDaemon(true);
        t.start();
    }

    /** What the proxy sends on the connections open now reaches the server {@code millis} later. */
    void lag(long millis) {
        synchronized (pipes) {
            for (Pipe p : pipes) {
                p.lagMillis = millis;
            }
            pipes.clear(); // connections opened from now on are not lagged
        }
    }

    private SocketChannel remember(SocketChannel s) {
        synchronized (sockets) {
            sockets.add(s);
        }
        return s;
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
