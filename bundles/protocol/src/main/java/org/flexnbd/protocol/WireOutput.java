package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * Big-endian writes to a channel through a buffer of fixed size; {@link #flush()} sends what is buffered. A large
 * payload goes out in one gathering write together with the header buffered before it, without being copied.
 * Not thread-safe: one writer at a time.
 */
public final class WireOutput {
    private final WritableByteChannel channel;
    private final ByteBuffer buffer;

    public WireOutput(WritableByteChannel channel, int bufferSize) {
        this(channel, bufferSize, false);
    }

    /**
     * With {@code direct}, the buffer is direct memory: what passes through it (headers, small payloads) then goes
     * to the kernel without the JDK's copy into a temporary direct buffer.
     */
    public WireOutput(WritableByteChannel channel, int bufferSize, boolean direct) {
        this.channel = channel;
        int size = Math.max(bufferSize, 64);
        this.buffer = direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
    }

    private void room(int n) throws IOException {
        if (buffer.remaining() < n) {
            flush();
        }
    }

    public WireOutput writeShort(int v) throws IOException {
        room(2);
        buffer.putShort((short) v);
        return this;
    }

    public WireOutput writeInt(int v) throws IOException {
        room(4);
        buffer.putInt(v);
        return this;
    }

    public WireOutput writeLong(long v) throws IOException {
        room(8);
        buffer.putLong(v);
        return this;
    }

    public WireOutput writeZeroes(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            room(1);
            buffer.put((byte) 0);
        }
        return this;
    }

    public WireOutput writeString(String s) throws IOException {
        return write(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)));
    }

    /** Writes what {@code src} has remaining, without moving its position. */
    public WireOutput write(ByteBuffer src) throws IOException {
        ByteBuffer data = src.duplicate();
        if (data.remaining() <= buffer.remaining()) {
            buffer.put(data);
            return this;
        }
        buffer.flip();
        try {
            while (buffer.hasRemaining() || data.hasRemaining()) {
                ByteBuffer piece = Transfers.piece(data);
                if (channel instanceof GatheringByteChannel gathering) {
                    gathering.write(new ByteBuffer[] {buffer, piece});
                } else {
                    channel.write(buffer.hasRemaining() ? buffer : piece);
                }
                data.position(data.position() + piece.position());
            }
        } finally {
            buffer.clear();
        }
        return this;
    }

    public void flush() throws IOException {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } finally {
            buffer.clear();
        }
    }

    /** Bytes buffered and not yet sent. */
    public int pending() {
        return buffer.position();
    }
}
