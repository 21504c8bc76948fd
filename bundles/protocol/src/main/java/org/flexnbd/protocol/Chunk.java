package org.flexnbd.protocol;

import java.nio.ByteBuffer;

import io.netty.util.ReferenceCounted;

/**
 * One structured reply chunk.
 *
 * @param flags the reply flags (NBD_REPLY_FLAG_DONE)
 * @param type the chunk type (NBD_REPLY_TYPE_*)
 * @param cookie the request's cookie
 * @param payload the chunk's payload, shared read-only
 * @param owner the pooled memory behind {@code payload}, null when it is on the heap; released with the
 *     {@link Reply} that holds the chunk
 */
public record Chunk(int flags, int type, long cookie, ByteBuffer payload, ReferenceCounted owner) {

    public Chunk {
        if ((flags & ~0xffff) != 0 || (type & ~0xffff) != 0) {
            throw new IllegalArgumentException("flags and type are 16 bits");
        }
        payload = payload.asReadOnlyBuffer();
    }

    /** A chunk whose payload is on the heap. */
    public Chunk(int flags, int type, long cookie, ByteBuffer payload) {
        this(flags, type, cookie, payload, null);
    }

    @Override
    public ByteBuffer payload() {
        return payload.duplicate();
    }

    public boolean isDone() {
        return (flags & Nbd.REPLY_FLAG_DONE) != 0;
    }

    public boolean isError() {
        return (type & 0x8000) != 0;
    }

    /** The errno of an error chunk (its first four bytes), or 0. */
    public int error() {
        return isError() && payload.remaining() >= 4 ? payload.getInt(payload.position()) : 0;
    }

    /** Gives back the pooled memory behind the payload; nothing for a heap payload. */
    public void release() {
        if (owner != null) {
            owner.release();
        }
    }

    public Chunk withFlags(int newFlags) {
        return new Chunk(newFlags, type, cookie, payload, owner);
    }

    public Chunk withPayload(ByteBuffer newPayload) {
        return new Chunk(flags, type, cookie, newPayload);
    }

    public int length() {
        return payload.remaining();
    }
}
