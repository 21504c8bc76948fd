package org.flexnbd.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Builders for structured reply chunks. */
public final class Chunks {
    private Chunks() {
    }

    public static Chunk none(long cookie) {
        return new Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, ByteBuffer.allocate(0));
    }

    public static Chunk offsetData(long cookie, int flags, long offset, ByteBuffer data) {
        ByteBuffer p = ByteBuffer.allocate(8 + data.remaining());
        p.putLong(offset).put(data.duplicate()).flip();
        return new Chunk(flags, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, p);
    }

    public static Chunk offsetHole(long cookie, int flags, long offset, int length) {
        ByteBuffer p = ByteBuffer.allocate(12);
        p.putLong(offset).putInt(length).flip();
        return new Chunk(flags, Nbd.REPLY_TYPE_OFFSET_HOLE, cookie, p);
    }

    public static Chunk error(long cookie, int flags, int error, String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        ByteBuffer p = ByteBuffer.allocate(6 + m.length);
        p.putInt(error).putShort((short) m.length).put(m).flip();
        return new Chunk(flags, Nbd.REPLY_TYPE_ERROR, cookie, p);
    }

    /** A BLOCK_STATUS chunk: the context id, then (length, flags) pairs. */
    public static Chunk blockStatus(long cookie, int flags, int contextId, int... lengthsAndFlags) {
        if (lengthsAndFlags.length % 2 != 0) {
            throw new IllegalArgumentException("descriptors come in (length, flags) pairs");
        }
        ByteBuffer p = ByteBuffer.allocate(4 + 4 * lengthsAndFlags.length);
        p.putInt(contextId);
        for (int v : lengthsAndFlags) {
            p.putInt(v);
        }
        return new Chunk(flags, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, p.flip());
    }

    /** The context id of a BLOCK_STATUS chunk. */
    public static int contextId(Chunk c) {
        return c.payload().getInt();
    }

    /** The same BLOCK_STATUS chunk under another context id. */
    public static Chunk withContextId(Chunk c, int contextId) {
        ByteBuffer p = ByteBuffer.allocate(c.length());
        p.put(c.payload()).putInt(0, contextId).flip();
        return c.withPayload(p);
    }
}
