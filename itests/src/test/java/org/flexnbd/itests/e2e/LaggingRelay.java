package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

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

    /**
     * One direction of one connection: what is read is timed, and written when its time has come, by a second thread,
     * so that a lag does not add up over the reads.
     */
    private static final class Pipe {
        private static final byte[] END = new byte[0];
        final SocketChannel from;
        final SocketChannel to;
        final BlockingQueue<Timed> carried = new LinkedBlockingQueue<>();
        volatile long lagMillis;

        record Timed(long dueMillis, byte[] bytes) {
        }

        Pipe(SocketChannel from, SocketChannel to) {
            this.from = from;
            this.to = to;
        }

        void read() {
            ByteBuffer b = ByteBuffer.allocate(1 << 16);
            try {
                while (from.read(b) >= 0) {
                    byte[] got = new byte[b.flip().remaining()];
                    b.get(got).clear();
                    carried.add(new Timed(System.currentTimeMillis() + lagMillis, got));
                }
            } catch (IOException closed) {
                // one side went: the other is closed with the relay
            }
            carried.add(new Timed(System.currentTimeMillis() + lagMillis, END));
        }

        void write() {
            try {
                while (true) {
                    Timed t = carried.take();
                    for (long left = t.dueMillis() - System.currentTimeMillis(); left > 0;
                            left = t.dueMillis() - System.currentTimeMillis()) {
                        Thread.sleep(left);
                    }
                    if (t.bytes() == END) {
                        to.shutdownOutput();
                        return;
                    }
                    ByteBuffer b = ByteBuffer.wrap(t.bytes());
                    while (b.hasRemaining()) {
                        to.write(b);
                    }
                }
            } catch (IOException | InterruptedException closed) {
                // the relay is closed
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
        for (Runnable r : new Runnable[] {p::read, p::write}) {
            Thread t = new Thread(r, "lagging-relay-pipe");
            t.setDaemon(true);
            t.start();
        }
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
