package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.LongFunction;

import org.flexnbd.protocol.loop.Outbound;

import io.netty.util.ReferenceCounted;

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
     * Queues a whole reply on {@code out} as it goes on the wire: headers, and payloads as views of the reply's own
     * memory, not copies. The reply must stay held until they are written.
     */
    public static void encode(Reply reply, Outbound out) {
        if (!reply.isStructured()) {
            out.add(ByteBuffer.allocate(SIMPLE_HEADER).putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(reply.error())
                    .putLong(reply.cookie()).flip());
            if (reply.error() == 0) {
                out.add(reply.data());
            }
            return;
        }
        for (Chunk c : reply.chunks()) {
            out.add(ByteBuffer.allocate(CHUNK_HEADER).putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) c.flags())
                    .putShort((short) c.type()).putLong(c.cookie()).putInt(c.length()).flip());
            out.add(c.payload());
        }
    }

    /** Bytes of a simple reply's header, and of a structured chunk's. */
    public static final int SIMPLE_HEADER = 16;
    public static final int CHUNK_HEADER = 20;

    /**
     * A reply's header as read, checked against its request: how many payload bytes follow it. The payload is
     * {@link #complete}d into a message once read.
     *
     * @param request the outstanding request it answers
     * @param payloadLength the bytes that follow the header
     */
    public record Head(boolean structured, int flags, int type, long cookie, int error, Request request,
            int payloadLength) {
        /** Whether a payload follows, even an empty one: a chunk, or a simple reply's READ data. */
        public boolean carriesData() {
            return structured || (request.type() == Nbd.CMD_READ && error == 0);
        }
    }

    /**
     * The header's length for a message starting with {@code magic}: a simple reply's or a chunk's. Any other magic
     * is fatal.
     */
    public static int headerLength(int magic) throws NbdException {
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            return SIMPLE_HEADER;
        }
        if (magic == Nbd.STRUCTURED_REPLY_MAGIC) {
            return CHUNK_HEADER;
        }
        throw NbdException.fatal(String.format("bad reply magic 0x%08x", magic));
    }

    /**
     * Checks the header at {@code h}'s position ({@link #headerLength} bytes, magic included; the position does not
     * move). {@code requests} finds the outstanding request a cookie belongs to (null if none): a simple READ
     * reply's data is as long as its request. Any violation is fatal.
     */
    public static Head head(ByteBuffer h, LongFunction<Request> requests, int maxPayload) throws NbdException {
        int at = h.position();
        int magic = h.getInt(at);
        if (headerLength(magic) == SIMPLE_HEADER) {
            int error = h.getInt(at + 4);
            long cookie = h.getLong(at + 8);
            Request request = requests.apply(cookie);
            if (request == null) {
                throw NbdException.fatal(String.format("simple reply for unknown cookie %016x", cookie));
            }
            int length = request.type() == Nbd.CMD_READ && error == 0 ? (int) request.length() : 0;
            return new Head(false, 0, 0, cookie, error, request, length);
        }
        int flags = h.getShort(at + 4) & 0xffff;
        int type = h.getShort(at + 6) & 0xffff;
        long cookie = h.getLong(at + 8);
        long length = h.getInt(at + 16) & 0xffffffffL;
        Request request = requests.apply(cookie);
        if (request == null) {
            throw NbdException.fatal(String.format("reply chunk for unknown cookie %016x", cookie));
        }
        if ((flags & ~Nbd.REPLY_FLAG_DONE) != 0) {
            throw NbdException.fatal(String.format("unknown reply flags 0x%04x", flags));
        }
        checkChunkLength(type, length, maxPayload);
        return new Head(true, flags, type, cookie, 0, request, (int) length);
    }

    /**
     * The message of {@code head} with its payload read (null when it has none): the payload's reference passes to
     * the message, or is released if the payload breaks the rules (fatal).
     */
    public static ReplyMessage complete(Head head, ByteBuffer payload, ReferenceCounted owner) throws NbdException {
        if (!head.structured()) {
            return new ReplyMessage(payload == null ? Reply.simple(head.cookie(), head.error(), null)
                    : Reply.simple(head.cookie(), head.error(), payload, owner), null);
        }
        ByteBuffer data = payload == null ? ByteBuffer.allocate(0) : payload;
        try {
            checkChunkPayload(head.type(), data);
        } catch (NbdException e) {
            if (owner != null) {
                owner.release();
            }
            throw e;
        }
        return new ReplyMessage(null, new Chunk(head.flags(), head.type(), head.cookie(), data, owner));
    }

    /**
     * Reads the next message from a server: {@link #head}, then the payload, then {@link #complete}. Everything is
     * validated; any violation is fatal, since the stream can no longer be trusted. Payload read into pooled memory
     * (when {@code in} has a pool) is the caller's to release, with the reply or the chunk.
     */
    public static ReplyMessage read(WireInput in, LongFunction<Request> requests, int maxPayload) throws IOException {
        int magic = in.readInt();
        ByteBuffer header = ByteBuffer.allocate(headerLength(magic)).putInt(magic);
        in.readFully(header);
        Head head = head(header.flip(), requests, maxPayload);
        if (!head.carriesData()) {
            return complete(head, null, null);
        }
        Payload payload = in.readPayload(head.payloadLength());
        return complete(head, payload.data(), payload.owner());
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
