package org.flexnbd.protocol;

import java.nio.ByteBuffer;
import java.util.List;

import io.netty.util.ReferenceCounted;

/**
 * One complete reply: a simple reply (with its READ data), or every chunk of a structured reply, the last one
 * carrying the DONE flag. Payload in pooled memory belongs to whoever holds the reply, who gives it back with
 * {@link #release()} once nothing of it (nor of a reply derived from it) is still to be written.
 */
public final class Reply {
    private static final ByteBuffer NONE = ByteBuffer.allocate(0).asReadOnlyBuffer();

    private final long cookie;
    private final int error;
    private final ByteBuffer data;
    private final ReferenceCounted dataOwner;
    private final List<Chunk> chunks;

    private Reply(long cookie, int error, ByteBuffer data, ReferenceCounted dataOwner, List<Chunk> chunks) {
        this.cookie = cookie;
        this.error = error;
        this.data = data;
        this.dataOwner = dataOwner;
        this.chunks = chunks;
    }

    public static Reply simple(long cookie, int error, ByteBuffer data) {
        return simple(cookie, error, data, null);
    }

    /** A simple reply whose data lies in pooled memory, {@code owner}, which the reply now holds. */
    public static Reply simple(long cookie, int error, ByteBuffer data, ReferenceCounted owner) {
        return new Reply(cookie, error, data == null ? NONE : data.asReadOnlyBuffer(), owner, null);
    }

    public static Reply structured(long cookie, List<Chunk> chunks) {
        if (chunks.isEmpty() || !chunks.get(chunks.size() - 1).isDone()) {
            throw new IllegalArgumentException("a structured reply ends with a DONE chunk");
        }
        int error = 0;
        for (Chunk c : chunks) {
            if (c.isError()) {
                error = c.error() == 0 ? Nbd.EIO : c.error();
                break;
            }
        }
        return new Reply(cookie, error, NONE, null, List.copyOf(chunks));
    }

    /** Gives back the pooled memory this reply holds: its data, or every chunk's. */
    public void release() {
        if (dataOwner != null) {
            dataOwner.release();
        }
        if (chunks != null) {
            chunks.forEach(Chunk::release);
        }
    }

    public long cookie() {
        return cookie;
    }

    public boolean isStructured() {
        return chunks != null;
    }

    /** The error: a simple reply's, or the first error chunk's; 0 for success. */
    public int error() {
        return error;
    }

    /** A simple reply's READ data (empty otherwise). */
    public ByteBuffer data() {
        return data.duplicate();
    }

    /** A structured reply's chunks, in the order they came; empty for a simple reply. */
    public List<Chunk> chunks() {
        return chunks == null ? List.of() : chunks;
    }

    /** Payload bytes held, for accounting. */
    public long payloadBytes() {
        if (chunks == null) {
            return data.remaining();
        }
        long n = 0;
        for (Chunk c : chunks) {
            n += c.length();
        }
        return n;
    }

    @Override
    public String toString() {
        return String.format("Reply(cookie=%016x error=%d %s)", cookie, error,
                chunks == null ? "simple " + data.remaining() + " bytes" : chunks.size() + " chunks");
    }
}
