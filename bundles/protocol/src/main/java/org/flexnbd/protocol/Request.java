package org.flexnbd.protocol;

import java.nio.ByteBuffer;

import io.netty.util.ReferenceCounted;

/**
 * One transmission request as the client sent it. The payload (WRITE data) is shared, never copied: the accessor
 * hands out an independent read-only view each time, so no holder can disturb another's position.
 *
 * @param flags the 16 command flag bits
 * @param type the command (NBD_CMD_*)
 * @param cookie the client's handle, opaque
 * @param offset the 64-bit offset
 * @param length the 32-bit length, unsigned (0 to 2^32-1)
 * @param payload the WRITE data, an empty buffer for every other command
 * @param owner the pooled memory behind {@code payload}, null when it is on the heap; see {@link #retain()}
 */
public record Request(int flags, int type, long cookie, long offset, long length, ByteBuffer payload,
        ReferenceCounted owner) {

    private static final ByteBuffer NONE = ByteBuffer.allocate(0).asReadOnlyBuffer();

    public Request {
        if ((flags & ~0xffff) != 0 || (type & ~0xffff) != 0) {
            throw new IllegalArgumentException("flags and type are 16 bits");
        }
        if (length < 0 || length > 0xffffffffL) {
            throw new IllegalArgumentException("length is 32 bits unsigned: " + length);
        }
        payload = payload == null ? NONE : payload.asReadOnlyBuffer();
    }

    /** A request whose payload, if any, is on the heap: nothing to release. */
    public Request(int flags, int type, long cookie, long offset, long length, ByteBuffer payload) {
        this(flags, type, cookie, offset, length, payload, null);
    }

    public static Request of(int type, int flags, long cookie, long offset, long length) {
        return new Request(flags, type, cookie, offset, length, NONE);
    }

    public static Request write(int flags, long cookie, long offset, ByteBuffer data) {
        return new Request(flags, Nbd.CMD_WRITE, cookie, offset, data.remaining(), data);
    }

    @Override
    public ByteBuffer payload() {
        return payload.duplicate();
    }

    /**
     * Takes one more hold on pooled payload memory: every holder of a request (a table it waits in, a write under
     * way) holds its own and gives it back with {@link #release()}, so that memory is reused only once nothing can
     * read it any more. Does nothing for a heap payload.
     */
    public Request retain() {
        if (owner != null) {
            owner.retain();
        }
        return this;
    }

    public void release() {
        if (owner != null) {
            owner.release();
        }
    }

    public boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    /** Bytes of payload this request carries. */
    public int payloadLength() {
        return payload.remaining();
    }

    @Override
    public String toString() {
        return String.format("%s(cookie=%016x offset=%d length=%d flags=0x%x)", Nbd.commandName(type), cookie, offset,
                length, flags);
    }
}
