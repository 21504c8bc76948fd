package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.LongFunction;

/** Simple replies and structured reply chunks on the wire, both ways. */
public final class ReplyCodec {
    private ReplyCodec() {
    }

    public static void writeSimple(WireOutput out, long cookie, int error, ByteBuffer data) throws IOException {
        out.writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(cookie);
        if (error == 0 && data != null) {
            out.write(data);
        }
    }

    public static void writeChunk(WireOutput out, Chunk c) throws IOException {
        out.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(c.flags()).writeShort(c.type()).writeLong(c.cookie())
                .writeInt(c.length());
        out.write(c.payload());
    }

    /** Buffers a whole reply: a simple one, or every chunk of a structured one; the caller flushes. */
    public static void write(WireOutput out, Reply reply) throws IOException {
        if (!reply.isStructured()) {
            writeSimple(out, reply.cookie(), reply.error(), reply.data());
            return;
        }
        for (Chunk c : reply.chunks()) {
            writeChunk(out, c);
        }
    }

    /**
     * Reads the next message from a server. {@code requests} finds the outstanding request a cookie belongs to (null
     * if none), so that a simple READ reply's data can be read: its length is the request's. Everything is
     * validated; any violation is fatal, since the stream can no longer be trusted. Payload read into pooled memory
     * (when {@code in} has a pool) is the caller's to release, with the reply or the chunk.
     */
    public static ReplyMessage read(WireInput in, LongFunction<Request> requests, int maxPayload) throws IOException {
        int magic = in.readInt();
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long cookie = in.readLong();
            Request request = requests.apply(cookie);
            if (request == null) {
                throw NbdException.fatal(String.format("simple reply for unknown cookie %016x", cookie));
            }
            if (request.type() == Nbd.CMD_READ && error == 0) {
                Payload data = in.readPayload((int) request.length());
                return new ReplyMessage(Reply.simple(cookie, error, data.data(), data.owner()), null);
            }
            return new ReplyMessage(Reply.simple(cookie, error, null), null);
        }
        if (magic != Nbd.STRUCTURED_REPLY_MAGIC) {
            throw NbdException.fatal(String.format("bad reply magic 0x%08x", magic));
        }
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        long length = in.readUnsignedInt();
        Request request = requests.apply(cookie);
        if (request == null) {
            throw NbdException.fatal(String.format("reply chunk for unknown cookie %016x", cookie));
        }
        if ((flags & ~Nbd.REPLY_FLAG_DONE) != 0) {
            throw NbdException.fatal(String.format("unknown reply flags 0x%04x", flags));
        }
        checkChunkLength(type, length, maxPayload);
        Payload payload = in.readPayload((int) length);
        try {
            checkChunkPayload(type, payload.data());
        } catch (NbdException e) {
            payload.release();
            throw e;
        }
        return new ReplyMessage(null, new Chunk(flags, type, cookie, payload.data(), payload.owner()));
    }

    private static void checkChunkLength(int type, long length, int maxPayload) throws NbdException {
        long min = switch (type) {
            case Nbd.REPLY_TYPE_NONE -> 0;
            case Nbd.REPLY_TYPE_OFFSET_DATA -> 9;
            case Nbd.REPLY_TYPE_OFFSET_HOLE -> 12;
            case Nbd.REPLY_TYPE_BLOCK_STATUS -> 12;
            default -> (type & 0x8000) != 0 ? 6 : -1;
        };
        if (min < 0) {
            throw NbdException.fatal("unknown reply chunk type " + type);
        }
        if (type == Nbd.REPLY_TYPE_NONE && length != 0) {
            throw NbdException.fatal("NONE chunk with " + length + " payload bytes");
        }
        if (type == Nbd.REPLY_TYPE_OFFSET_HOLE && length != 12) {
            throw NbdException.fatal("OFFSET_HOLE chunk of " + length + " bytes");
        }
        if (length < min) {
            throw NbdException.fatal("reply chunk type " + type + " too short: " + length + " bytes");
        }
        if (length > (long) maxPayload + 8) {
            throw NbdException.fatal("reply chunk of " + length + " bytes is over the maximum payload " + maxPayload);
        }
    }

    private static void checkChunkPayload(int type, ByteBuffer payload) throws NbdException {
        if (type == Nbd.REPLY_TYPE_BLOCK_STATUS && (payload.remaining() - 4) % 8 != 0) {
            throw NbdException.fatal("BLOCK_STATUS chunk of " + payload.remaining() + " bytes is not 4 + 8n");
        }
        if ((type & 0x8000) != 0) {
            int messageLength = payload.getShort(4) & 0xffff;
            int expected = 6 + messageLength + (type == Nbd.REPLY_TYPE_ERROR_OFFSET ? 8 : 0);
            if (type == Nbd.REPLY_TYPE_ERROR || type == Nbd.REPLY_TYPE_ERROR_OFFSET
                    ? payload.remaining() != expected
                    : payload.remaining() < 6 + messageLength) {
                throw NbdException.fatal("error chunk of " + payload.remaining() + " bytes with a message of "
                        + messageLength);
            }
            if (payload.getInt(0) == 0) {
                throw NbdException.fatal("error chunk with error 0");
            }
        }
    }
}
