package org.flexnbd.protocol.loop;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Messages read from one non-blocking socket as their bytes arrive. Headers and small payloads are read in bulk
 * into one buffer (many messages a system call); a large payload goes from the socket straight into pooled memory
 * of its own, taking first what the buffer already holds of it. The reader asks for what it needs next and is told
 * whether it is there yet: nothing blocks, and nothing is lost when a message comes in pieces.
 */
public final class Inbound {
    private final ByteBuffer buffer;
    private final ByteBufAllocator pool;
    /** The payload being read, its memory and where its bytes go; null between payloads. */
    private ByteBuf payload;
    private ByteBuffer payloadTarget;
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
        if (!ended) {
            buffer.compact();
            try {
                if (ch.read(buffer) < 0) {
                    ended = true;
                }
            } finally {
                buffer.flip();
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

    /** Bytes buffered and not yet taken. */
    public int buffered() {
        return buffer.remaining();
    }

    /**
     * Starts reading a payload of {@code length} bytes into pooled memory; {@link #payloadRead} then reports when it
     * is all there. What the buffer holds of it is taken now.
     */
    public void beginPayload(int length) {
        if (payload != null) {
            throw new IllegalStateException("a payload is being read");
        }
        payload = pool.directBuffer(length, length);
        payloadTarget = payload.nioBuffer(0, length);
        int now = Math.min(length, buffer.remaining());
        ByteBuffer part = buffer.slice(buffer.position(), now);
        payloadTarget.put(part);
        buffer.position(buffer.position() + now);
    }

    /**
     * Reads what the socket has of the payload begun; true when all of it is there. A peer that closed before the
     * end makes this throw {@link java.io.EOFException} (the payload is given back).
     */
    public boolean payloadRead(ReadableByteChannel ch) throws IOException {
        while (payloadTarget.hasRemaining()) {
            int n = ch.read(payloadTarget);
            if (n < 0) {
                ended = true;
                discardPayload();
                throw new EOFException("the peer closed the connection in the middle of a payload");
            }
            if (n == 0) {
                return false;
            }
        }
        return true;
    }

    /** The payload read, now the caller's (one reference); reading it again needs another {@link #beginPayload}. */
    public ByteBuf takePayload() {
        if (payload == null || payloadTarget.hasRemaining()) {
            throw new IllegalStateException("no complete payload");
        }
        ByteBuf p = payload.writerIndex(payload.capacity());
        payload = null;
        payloadTarget = null;
        return p;
    }

    /** The socket is gone: a payload half read goes back. */
    public void discardPayload() {
        if (payload != null) {
            payload.release();
            payload = null;
            payloadTarget = null;
        }
    }
}
