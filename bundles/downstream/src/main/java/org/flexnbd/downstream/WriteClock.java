package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;

/**
 * A client socket's output that knows how long the write under way has waited. A blocking write returns only once
 * the client has taken every byte of it (at most the output buffer and one 1 MiB piece of payload), so a write
 * that has waited long is a client that has stopped reading.
 */
final class WriteClock implements GatheringByteChannel {
    private static final long IDLE = Long.MIN_VALUE;

    private final GatheringByteChannel socket;
    private volatile long since = IDLE;

    WriteClock(GatheringByteChannel socket) {
        this.socket = socket;
    }

    /** Nanoseconds the write under way has waited at {@code nowNanos}; 0 when none is under way. */
    long waitedNanos(long nowNanos) {
        long s = since;
        return s == IDLE ? 0 : nowNanos - s;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        since = System.nanoTime();
        try {
            return socket.write(src);
        } finally {
            since = IDLE;
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        since = System.nanoTime();
        try {
            return socket.write(srcs, offset, length);
        } finally {
            since = IDLE;
        }
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean isOpen() {
        return socket.isOpen();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
