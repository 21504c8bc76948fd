package org.flexnbd.downstream;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** The address clients connect to: TCP, or a UNIX socket whose file the proxy owns while it listens. */
record ListenAddress(String address, int port) {

    boolean isUnix() {
        return address.startsWith("/");
    }

    ServerSocketChannel bind() throws IOException {
        if (!isUnix()) {
            ServerSocketChannel server = ServerSocketChannel.open();
            server.bind(new InetSocketAddress(address, port), 16);
            return server;
        }
        Path path = Path.of(address);
        removeStaleSocket(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path), 16);
        return server;
    }

    /** A socket file nobody answers on is left over from a proxy that was killed: take its place. */
    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new IOException(path + " is in use by another process");
        } catch (ConnectException stale) {
            Files.deleteIfExists(path);
        }
    }

    void unbind() {
        if (isUnix()) {
            try {
                Files.deleteIfExists(Path.of(address));
            } catch (IOException ignored) {
                // the socket file is gone with the process anyway when the directory is temporary
            }
        }
    }

    @Override
    public String toString() {
        return isUnix() ? address : address + ":" + port;
    }
}
