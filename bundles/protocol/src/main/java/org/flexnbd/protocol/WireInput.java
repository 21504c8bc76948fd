package org.flexnbd.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Big-endian reads from a channel through a buffer of fixed size. Large payloads are read straight into their own
 * buffer, so nothing is copied twice and nothing grows with the input. With a pool, payloads are read into pooled
 * direct memory: the kernel copies into it, and the same memory is written out again, so a relayed byte is copied
 * twice in all, as through a pipe (a heap buffer costs two more copies through the JDK's temporary direct buffers,
 * and zeroing).
 */
public final class WireInput {
    /**
     * Payloads smaller than this stay on the heap. A small payload passes through the wire buffers on both sides
     * anyway (it is read with the messages around it, and written with them), so pooled memory would save no copy,
     * and taking it from the pool cost more than a heap allocation: 4.5% of the CPU under 4 KiB writes at QD32.
     */
    static final int POOLED_FROM = 8 * 1024;
    /** The memory a payload first takes, and how much more each time what arrived has filled it. */
    static final int FIRST_PIECE = 1 << 20;
    static final int GROWTH = 4;
    /**
     * A direct payload at most this large is read through the buffer, so that one read brings the messages after it
     * too; a larger one is read straight into its own memory.
     */
    private static final int DIRECT_THROUGH_BUFFER = 32 * 1024;
    /** With a pool, the most one read into the buffer takes: a few dozen 4 KiB requests, or headers. */
    private static final int FILL_AT_MOST = 2 * DIRECT_THROUGH_BUFFER;

    private final ReadableByteChannel channel;
    private final ByteBuffer buffer;
    private final Runnable beforeWait;
    private final ByteBufAllocator pool;

    public WireInput(ReadableByteChannel channel, int bufferSize) {
        this(channel, bufferSize, () -> { });
    }

    /**
     * {@code beforeWait} runs each time everything buffered has been used and the channel must be read, which may
     * wait: the moment to flush what was written in answer to what was read so far.
     */
    public WireInput(ReadableByteChannel channel, int bufferSize, Runnable beforeWait) {
        this(channel, bufferSize, beforeWait, null);
    }

    /**
     * As above, reading payloads of {@link #POOLED_FROM} bytes and more into direct memory from {@code pool}, or onto
     * the heap when it is null. The buffer itself is direct then too.
     */
    public WireInput(ReadableByteChannel channel, int bufferSize, Runnable beforeWait, ByteBufAllocator pool) {
        this.channel = channel;
        int size = Math.max(bufferSize, 64);
        this.buffer = pool != null ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
        this.beforeWait = beforeWait;
        this.pool = pool;
        buffer.flip();
    }

    /** Waits for at least one byte; false when the peer closed the stream cleanly before sending another. */
    public boolean hasMore() throws IOException {
        if (buffer.hasRemaining()) {
            return true;
        }
        return fill() > 0;
    }

    /**
     * Hands over what was read from the channel and not consumed (a client's first requests, sent right after its
     * handshake): the reader that takes over the channel reads them first. Nothing is left here.
     */
    public ByteBuffer takeBuffered() {
        ByteBuffer rest = ByteBuffer.allocate(buffer.remaining()).put(buffer).flip();
        buffer.clear().flip();
        return rest;
    }

    /** Bytes already read from the channel and not yet consumed: what can be decoded without waiting. */
    public int buffered() {
        return buffer.remaining();
    }

    private int fill() throws IOException {
        beforeWait.run();
        buffer.compact();
        if (pool != null) {
            // What is read here beyond a message's header is copied once more, into the payload: bring in enough
            // for a run of small requests, and leave a large payload in the socket, to be read into its memory.
            buffer.limit(Math.min(buffer.capacity(), buffer.position() + FILL_AT_MOST));
        }
        try {
            return channel.read(buffer);
        } finally {
            buffer.flip();
        }
    }

    private void need(int n) throws IOException {
        while (buffer.remaining() < n) {
            if (fill() < 0) {
                throw new EOFException("connection closed " + buffer.remaining() + " bytes into a " + n
                        + "-byte field");
            }
        }
    }

    public int readUnsignedByte() throws IOException {
        need(1);
        return buffer.get() & 0xff;
    }

    public int readUnsignedShort() throws IOException {
        need(2);
        return buffer.getShort() & 0xffff;
    }

    public int readInt() throws IOException {
        need(4);
        return buffer.getInt();
    }

    public long readUnsignedInt() throws IOException {
        return readInt() & 0xffffffffL;
    }

    public long readLong() throws IOException {
        need(8);
        return buffer.getLong();
    }

    /**
     * Fills {@code dst} completely. A small remainder is read through the buffer, so that one read can bring the
     * messages after it too; a large one goes straight into {@code dst}, in pieces of at most
     * {@link Transfers#MAX_TRANSFER} bytes.
     */
    public void readFully(ByteBuffer dst) throws IOException {
        take(dst);
        boolean flushed = false;
        while (dst.hasRemaining()) {
            if (dst.remaining() <= (dst.isDirect() ? Math.min(DIRECT_THROUGH_BUFFER, buffer.capacity() / 2)
                    : buffer.capacity() / 2)) {
                if (fill() < 0) {
                    throw missing(dst);
                }
                take(dst);
                continue;
            }
            if (!flushed) {
                beforeWait.run();
                flushed = true;
            }
            ByteBuffer piece = Transfers.piece(dst);
            if (channel.read(piece) < 0) {
                throw missing(dst);
            }
            dst.position(dst.position() + piece.position());
        }
    }

    private void take(ByteBuffer dst) {
        int n = Math.min(buffer.remaining(), dst.remaining());
        if (n > 0) {
            dst.put(buffer.slice(buffer.position(), n));
            buffer.position(buffer.position() + n);
        }
    }

    private static EOFException missing(ByteBuffer dst) {
        return new EOFException("connection closed with " + dst.remaining() + " payload bytes missing");
    }

    /** Reads {@code n} bytes into a new buffer, ready to read. */
    public ByteBuffer readBytes(int n) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(n);
        readFully(dst);
        return dst.flip();
    }

    /**
     * Reads {@code n} bytes of payload, into pooled memory if this input has a pool and it is worth it, all of it
     * taken at once: for a reply to a request of the proxy's own, whose length it chose and budgeted.
     */
    Payload readPayload(int n) throws IOException {
        return readPayload(n, n);
    }

    /**
     * As {@link #readPayload(int)}, but taking memory only as the data arrives: a peer that announces 32 MiB and
     * sends one byte must not make the proxy hold 32 MiB. The first {@link #FIRST_PIECE} bytes (all of a payload up
     * to that size, the common case, read with no copy) go into memory of their own; each time it is full, memory
     * {@link #GROWTH} times larger (at most the payload) takes what came so far, and the reading goes on there. So
     * what is held is at most {@code GROWTH} times what arrived, plus {@code FIRST_PIECE}; the price is copying
     * about a third of a large payload once more.
     */
    Payload readArrivingPayload(int n) throws IOException {
        return readPayload(n, Math.min(n, FIRST_PIECE));
    }

    private Payload readPayload(int n, int first) throws IOException {
        Payload memory = memory(first, n);
        try {
            int got = 0;
            while (true) {
                int size = memory.data().limit();
                readFully(memory.data().slice(got, size - got));
                got = size;
                if (got == n) {
                    return memory;
                }
                Payload larger = memory(grown(got, n), n);
                larger.data().put(0, memory.data(), 0, got);
                memory.release();
                memory = larger;
            }
        } catch (IOException | RuntimeException | Error e) {
            memory.release();
            throw e;
        }
    }

    /** {@code size} bytes for a payload of {@code n}: pooled if this input has a pool and it is worth it. */
    private Payload memory(int size, int n) {
        if (pool == null || n < POOLED_FROM) {
            return new Payload(ByteBuffer.allocate(size), null);
        }
        ByteBuf pooled = pool.directBuffer(size);
        return new Payload(pooled.nioBuffer(0, size), pooled);
    }

    private static int grown(int capacity, int n) {
        return (int) Math.min(n, (long) capacity * GROWTH);
    }

    public String readString(int n) throws IOException {
        ByteBuffer b = readBytes(n);
        return new String(b.array(), 0, n, StandardCharsets.UTF_8);
    }

    /** Reads and drops {@code n} bytes, a buffer's worth at a time. */
    public void skip(long n) throws IOException {
        while (n > 0) {
            if (!buffer.hasRemaining() && fill() < 0) {
                throw new EOFException("connection closed with " + n + " bytes left to skip");
            }
            int step = (int) Math.min(n, buffer.remaining());
            buffer.position(buffer.position() + step);
            n -= step;
        }
    }
}
