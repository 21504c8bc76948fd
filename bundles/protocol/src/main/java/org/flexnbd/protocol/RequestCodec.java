package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Transmission requests on the wire: the 28-byte header, and the payload of a WRITE. */
public final class RequestCodec {
    private RequestCodec() {
    }

    /**
     * Reads the next request, or returns null when the peer closed cleanly between requests. A request that can be
     * answered (unknown command or flag, length over {@code maxPayload}) throws a non-fatal {@link NbdException}
     * after its payload has been consumed, so the stream stays in step; a bad magic or a truncated request is
     * fatal.
     */
    public static Request read(WireInput in, int maxPayload) throws IOException {
        Request header = readHeader(in, maxPayload);
        return header == null ? null : readPayload(in, header);
    }

    /**
     * Reads and checks the next request's header, as {@link #read} does, but not a WRITE's payload: that waits for
     * {@link #readPayload}, so that a reader can make room for the payload before taking it in. A WRITE refused
     * here has had its payload skipped, without holding it.
     */
    public static Request readHeader(WireInput in, int maxPayload) throws IOException {
        if (!in.hasMore()) {
            return null;
        }
        ByteBuffer h = ByteBuffer.allocate(Nbd.REQUEST_HEADER_LENGTH);
        in.readFully(h);
        Head head = head(h.flip(), maxPayload);
        if (head.refusal() != null) {
            in.skip(head.skip());
            throw head.refusal();
        }
        return head.request();
    }

    /**
     * A request's header, checked: the request, or why it is refused (to be answered with that error once the
     * {@code skip} payload bytes that follow it have been read past, so the stream stays in step).
     */
    public record Head(Request request, NbdException refusal, long skip) {
    }

    /**
     * Checks the header at {@code h}'s position ({@link Nbd#REQUEST_HEADER_LENGTH} bytes; the position does not
     * move), as {@link #readHeader} does. A bad magic is fatal.
     */
    public static Head head(ByteBuffer h, int maxPayload) throws NbdException {
        int at = h.position();
        int magic = h.getInt(at);
        if (magic != Nbd.REQUEST_MAGIC) {
            throw NbdException.fatal(String.format("bad request magic 0x%08x", magic));
        }
        int flags = h.getShort(at + 4) & 0xffff;
        int type = h.getShort(at + 6) & 0xffff;
        long cookie = h.getLong(at + 8);
        long offset = h.getLong(at + 16);
        long length = h.getInt(at + 24) & 0xffffffffL;
        try {
            if (type == Nbd.CMD_WRITE) {
                if (length > maxPayload) {
                    throw NbdException.reply("WRITE of " + length + " bytes is over the maximum payload "
                            + maxPayload, Nbd.EOVERFLOW, cookie);
                }
                checkFlags(flags, cookie);
                return new Head(Request.of(type, flags, cookie, offset, length), null, 0);
            }
            if (type > Nbd.CMD_RESIZE) {
                throw NbdException.reply("unknown command " + type, Nbd.EINVAL, cookie);
            }
            checkFlags(flags, cookie);
            if (type == Nbd.CMD_READ && length > maxPayload) {
                throw NbdException.reply("READ of " + length + " bytes is over the maximum payload " + maxPayload,
                        Nbd.EOVERFLOW, cookie);
            }
            return new Head(Request.of(type, flags, cookie, offset, length), null, 0);
        } catch (NbdException refused) {
            return new Head(null, refused, type == Nbd.CMD_WRITE ? length : 0);
        }
    }

    /**
     * The request whose header {@link #readHeader} returned, with its WRITE payload read; any other is itself. A
     * payload read into pooled memory is the caller's to {@link Request#release()}.
     */
    public static Request readPayload(WireInput in, Request header) throws IOException {
        if (header.type() != Nbd.CMD_WRITE) {
            return header;
        }
        Payload payload = in.readArrivingPayload((int) header.length());
        return new Request(header.flags(), header.type(), header.cookie(), header.offset(), header.length(),
                payload.data(), payload.owner());
    }

    private static void checkFlags(int flags, long cookie) throws NbdException {
        // PAYLOAD_LEN only exists with extended headers, which are not negotiated.
        int known = Nbd.CMD_FLAGS_KNOWN & ~Nbd.CMD_FLAG_PAYLOAD_LEN;
        if ((flags & ~known) != 0) {
            throw NbdException.reply(String.format("unknown command flags 0x%04x", flags & ~known), Nbd.EINVAL,
                    cookie);
        }
    }

    /** Buffers the request; the caller flushes. */
    public static void write(WireOutput out, Request r) throws IOException {
        out.writeInt(Nbd.REQUEST_MAGIC).writeShort(r.flags()).writeShort(r.type()).writeLong(r.cookie())
                .writeLong(r.offset()).writeInt((int) r.length());
        if (r.type() == Nbd.CMD_WRITE) {
            out.write(r.payload());
        }
    }

    /** The request's header as it goes on the wire (a WRITE's payload follows it), ready to read. */
    public static ByteBuffer header(Request r) {
        return ByteBuffer.allocate(Nbd.REQUEST_HEADER_LENGTH).putInt(Nbd.REQUEST_MAGIC).putShort((short) r.flags())
                .putShort((short) r.type()).putLong(r.cookie()).putLong(r.offset()).putInt((int) r.length()).flip();
    }
}
