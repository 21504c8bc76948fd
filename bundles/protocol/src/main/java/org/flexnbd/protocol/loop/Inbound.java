package org.flexnbd.protocol.loop;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCounted;

/**
 * Messages read from one non-blocking socket as their bytes arrive. Headers are read in bulk into one buffer (many
 * messages a system call); a payload goes from the socket straight into pooled memory of its own,
 * taking first what the buffer already holds of it. The reader asks for what it needs next and is told
 * whether it is there yet: nothing blocks, and nothing is lost when a message comes in pieces.
 * <p>
 * Every payload is pooled, however small. Small ones were kept on the heap while threads read them (a pooled buffer
 * taken on one thread and given back on another cost more than a heap allocation), but on a loop a payload is taken
 * and given back by one thread, from its cache, and a pooled payload is written on without being copied: 4 KiB
 * random reads at QD32 went from 58k to 67k IOPS for 0.86 of the CPU per request, writes from 46k to 48k for 0.92
 * (one interleaved run, bench/results/2026-12-02/night).
 */
public final class Inbound {
    /** The memory an arriving payload first takes, and how much more each time what arrived has filled it. */
    public static final int FIRST_PIECE = 1 << 20;
    public static final int GROWTH = 4;

    private final ByteBuffer buffer;
    private final ByteBufAllocator pool;
    /** Where the payload being read goes, and its pooled memory; null between payloads. */
    private ByteBuffer target;
    private ByteBuf owner;
    private int wanted;
    private boolean ended;

    /**
     * @param bufferBytes the bulk buffer: headers and payloads up to half of it are read through it
     * @param pool where payloads come from
     */
    public Inbound(int bufferBytes, ByteBufAllocator pool) {
        this.buffer = ByteBuffer.allocateDirect(bufferBytes).flip();
        this.pool = pool;
    }

    /**
     * Whether {@code n} bytes (at most the buffer's size) are buffered, reading what the socket has if they are
     * not. Their view is {@link #peek}; {@link #skip} consumes them.
     */
    public boolean has(ReadableByteChannel ch, int n) throws IOException {
        if (buffer.remaining() >= n) {
            return true;
        }
        if (n > buffer.capacity()) {
            throw new IllegalArgumentException(n + " bytes do not fit a buffer of " + buffer.capacity());
        }
        // Read until there is enough or the channel has nothing: a channel that buffers (TLS) may hold more than
        // one read gives, and the socket under it, already emptied, would never say so.
        while (!ended && buffer.remaining() < n) {
            buffer.compact();
            int got;
            try {
                got = ch.read(buffer);
            } finally {
                buffer.flip();
            }
            if (got < 0) {
                ended = true;
            } else if (got == 0) {
                break;
            }
        }
        return buffer.remaining() >= n;
    }

    /** The buffered bytes, from the next one on, as a read-only view: absolute gets, no position to disturb. */
    public ByteBuffer peek() {
        return buffer.asReadOnlyBuffer();
    }

    public void skip(int n) {
        buffer.position(buffer.position() + n);
    }

    /** Whether the peer closed its side and nothing is buffered: between messages, a clean end. */
    public boolean isEnded() {
        return ended && !buffer.hasRemaining();
    }

    /** Whether the peer closed its side in the middle of a message: bytes of it are buffered, and no more come. */
    public boolean isTruncated() {
        return ended && buffer.hasRemaining();
    }

    /** Bytes read before this took over the socket (a handshake's reader had them): they come first. */
    public void prefill(ByteBuffer early) {
        buffer.compact();
        try {
            buffer.put(early);
        } finally {
            buffer.flip();
        }
    }

    /** Bytes buffered and not yet taken. */
    public int buffered() {
        return buffer.remaining();
    }

    /**
     * Starts reading a payload of {@code length} bytes, all its memory taken now (a reply whose request asked for
     * it); {@link #payloadRead} then reports when it is all there. What the buffer holds of it is taken now.
     */
    public void beginPayload(int length) {
        begin(length, length);
    }

    /**
     * As {@link #beginPayload}, but taking memory only as the data arrives: a client that announces 32 MiB and sends
     * one byte must not make the proxy hold 32 MiB. The first {@link #FIRST_PIECE} bytes go into memory of their
     * own; each time it is full, memory {@link #GROWTH} times larger (at most the payload) takes what came so far.
     */
    public void beginArrivingPayload(int length) {
        begin(length, Math.min(length, FIRST_PIECE));
    }

    private void begin(int length, int first) {
        if (target != null) {
            throw new IllegalStateException("a payload is being read");
        }
        wanted = length;
        take(first);
        int now = Math.min(first, buffer.remaining());
        target.put(buffer.slice(buffer.position(), now));
        buffer.position(buffer.position() + now);
    }

    private void take(int size) {
        owner = pool.directBuffer(size, size);
        target = owner.nioBuffer(0, size);
    }

    /**
     * Reads what the socket has of the payload begun; true when all of it is there. A peer that closed before the
     * end makes this throw {@link EOFException} (the payload is given back).
     */
    public boolean payloadRead(ReadableByteChannel ch) throws IOException {
        while (true) {
            while (target.hasRemaining()) {
                int n = ch.read(target);
                if (n < 0) {
                    ended = true;
                    discardPayload();
                    throw new EOFException("the peer closed the connection in the middle of a payload");
                }
                if (n == 0) {
                    return false;
                }
            }
            if (target.capacity() == wanted) {
                return true;
            }
            ByteBuffer got = target.flip();
            ByteBuf old = owner;
            take((int) Math.min(wanted, (long) got.remaining() * GROWTH));
            target.put(got);
            old.release();
        }
    }

    /** Whether a payload has been begun and not yet taken. */
    public boolean isReadingPayload() {
        return target != null;
    }

    /** The payload read, now the caller's: its memory with one reference. */
    public Data takePayload() {
        if (target == null || target.hasRemaining() || target.capacity() != wanted) {
            throw new IllegalStateException("no complete payload");
        }
        Data d = new Data(target.flip(), owner);
        target = null;
        owner = null;
        return d;
    }

    /** The socket is gone: a payload half read goes back. */
    public void discardPayload() {
        if (owner != null) {
            owner.release();
        }
        owner = null;
        target = null;
    }

    /** A payload as read: its bytes, ready to read, and the pooled memory they lie in. */
    public record Data(ByteBuffer data, ReferenceCounted owner) {
        public void release() {
            owner.release();
        }
    }
}
