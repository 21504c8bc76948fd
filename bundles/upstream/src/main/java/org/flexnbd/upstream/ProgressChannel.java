package org.flexnbd.upstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;

/** A socket channel that notes when bytes last moved either way: the upstream timeout is measured from then. */
final class ProgressChannel implements ByteChannel, GatheringByteChannel {
    private final SocketChannel channel;
    private volatile long lastProgressNanos = System.nanoTime();

    ProgressChannel(SocketChannel channel) {
        this.channel = channel;
    }

    /** The socket itself, for a loop to register. */
    SocketChannel socket() {
        return channel;
    }

    long lastProgressNanos() {
        return lastProgressNanos;
    }

    void touch() {
        lastProgressNanos = System.nanoTime();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = channel.read(dst);
        if (n > 0) {
            touch();
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = channel.write(src);
        if (n > 0) {
            touch();
        }
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long n = channel.write(srcs, offset, length);
        if (n > 0) {
            touch();
        }
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
