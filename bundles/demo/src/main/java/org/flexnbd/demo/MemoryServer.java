package org.flexnbd.demo;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.ServerOffer;

/**
 * An NBD server for one {@link MemoryExport}, on a UNIX socket or on a port of 127.0.0.1: fixed newstyle, one export
 * under the empty name, structured replies and base:allocation offered, a thread per client.
 */
public final class MemoryServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(MemoryServer.class.getName());
    private static final long STOP_WAIT_MILLIS = 5000;

    /** The transmission flags: every command the server carries out. */
    static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_TRIM
            | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_DF | Nbd.FLAG_CAN_MULTI_CONN | Nbd.FLAG_SEND_CACHE
            | Nbd.FLAG_SEND_FAST_ZERO;
    static final String BASE_ALLOCATION = "base:allocation";

    private final MemoryExport export;
    private final ServerOffer offer;
    private final ServerSocketChannel listener;
    private final Path socketPath;
    private final String address;
    private final Thread acceptor;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final Set<Thread> clientThreads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger clientNumber = new AtomicInteger();
    private volatile boolean closed;

    private MemoryServer(MemoryExport export, ServerSocketChannel listener, Path socketPath, String address) {
        this.export = export;
        this.offer = new ServerOffer(new ExportInfo("", export.size(), FLAGS, 1, 4096, Nbd.MAX_PAYLOAD,
                "flexnbd demo: in-memory"), true, List.of(BASE_ALLOCATION));
        this.listener = listener;
        this.socketPath = socketPath;
        this.address = address;
        this.acceptor = new Thread(this::acceptLoop, "demo-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Serves on a UNIX socket at {@code path}; a stale socket file there is replaced. */
    public static MemoryServer onUnixSocket(Path path, MemoryExport export) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)
                && !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(path); // a socket file left by an earlier run
        }
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            listener.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            listener.close();
            throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
        return new MemoryServer(export, listener, path, path.toString());
    }

    /** Serves on {@code port} of 127.0.0.1 (0: any free port, see {@link #port()}). */
    public static MemoryServer onLoopback(int port, MemoryExport export) throws IOException {
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET);
        try {
            listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        } catch (IOException e) {
            listener.close();
            throw new IOException("cannot listen on 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
        int bound = ((InetSocketAddress) listener.getLocalAddress()).getPort();
        return new MemoryServer(export, listener, null, "127.0.0.1:" + bound);
    }

    /** The socket path, or 127.0.0.1:PORT. */
    public String address() {
        return address;
    }

    /** The TCP port, or -1 on a UNIX socket. */
    public int port() {
        return socketPath == null ? Integer.parseInt(address.substring(address.lastIndexOf(':') + 1)) : -1;
    }

    public MemoryExport export() {
        return export;
    }

    /** Clients connected now. */
    public int clientCount() {
        return clients.size();
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel channel;
            try {
                channel = listener.accept();
            } catch (ClosedChannelException stopped) {
                return;
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                LOG.log(Level.WARNING, "demo: accept failed on " + address + ": " + e.getMessage());
                pause();
                continue;
            }
            start(channel);
        }
    }

    private void start(SocketChannel channel) {
        try {
            if (socketPath == null) {
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            }
        } catch (IOException e) {
            LOG.log(Level.FINE, "demo: TCP_NODELAY: " + e.getMessage());
        }
        clients.add(channel);
        Thread[] self = new Thread[1];
        Runnable onExit = () -> {
            clients.remove(channel);
            clientThreads.remove(self[0]);
        };
        Thread t = new Thread(new ClientConnection(channel, export, offer, onExit),
                "demo-client-" + clientNumber.incrementAndGet());
        self[0] = t;
        t.setDaemon(true);
        clientThreads.add(t);
        if (closed) { // close() ran between accept and here
            closeQuietly(channel);
        }
        t.start();
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops accepting, closes every client connection, waits a bounded time for their threads, and removes the socket file. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(listener);
        for (SocketChannel c : clients) {
            closeQuietly(c);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_WAIT_MILLIS);
        join(acceptor, deadline);
        for (Thread t : clientThreads) {
            join(t, deadline);
        }
        if (socketPath != null) {
            try {
                Files.deleteIfExists(socketPath);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "demo: cannot remove " + socketPath + ": " + e.getMessage());
            }
        }
    }

    private static void join(Thread t, long deadline) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
            return;
        }
        try {
            t.join(left);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "demo: close: " + e.getMessage());
        }
    }
}
