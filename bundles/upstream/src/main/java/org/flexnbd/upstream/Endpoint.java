package org.flexnbd.upstream;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/** Where the upstream is, and how to open a socket to it: TCP (optionally from a local address) or a UNIX socket. */
record Endpoint(String address, int port, String bind) {

    boolean isUnix() {
        return address.startsWith("/");
    }

    SocketChannel open(Duration timeout) throws IOException {
        if (isUnix()) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(address));
                return ch;
            } catch (IOException e) {
                ch.close();
                throw e;
            }
        }
        SocketChannel ch = SocketChannel.open();
        try {
            if (!bind.isEmpty()) {
                ch.bind(new InetSocketAddress(bind, 0));
            }
            ch.socket().connect(new InetSocketAddress(address, port), (int) timeout.toMillis());
            ch.socket().setTcpNoDelay(true);
            return ch;
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return isUnix() ? address : address + ":" + port;
    }
}
