package org.flexnbd.protocol;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Turns a structured reply into the simple reply a client that did not negotiate structured replies expects: the
 * first error wins (and carries no data); READ data is assembled from its data and hole chunks. A successful READ
 * whose content chunks do not cover the request exactly (a chunk outside it, two overlapping, or a gap) is an EIO:
 * the spec has the server cover the whole request, and zeroes for bytes it never sent would be silent corruption.
 */
public final class SimpleConversion {
    private SimpleConversion() {
    }

    public static Reply toSimple(Request request, Reply reply) {
        if (!reply.isStructured()) {
            return reply;
        }
        if (reply.error() != 0) {
            return Reply.simple(reply.cookie(), reply.error(), null);
        }
        if (request.type() != Nbd.CMD_READ) {
            return Reply.simple(reply.cookie(), 0, null);
        }
        ByteBuffer whole = wholeInOneChunk(request, reply);
        if (whole != null) {
            return Reply.simple(reply.cookie(), 0, whole);
        }
        ByteBuffer data = ByteBuffer.allocate((int) request.length());
        List<long[]> extents = new ArrayList<>();
        for (Chunk c : reply.chunks()) {
            ByteBuffer p = c.payload();
            long at;
            long length;
            if (c.type() == Nbd.REPLY_TYPE_OFFSET_DATA) {
                at = p.getLong() - request.offset();
                length = p.remaining();
            } else if (c.type() == Nbd.REPLY_TYPE_OFFSET_HOLE) {
                at = p.getLong() - request.offset();
                length = p.getInt() & 0xffffffffL;
            } else {
                continue;
            }
            if (at < 0 || at > request.length() || length > request.length() - at) { // no overflow on a huge offset
                return Reply.simple(reply.cookie(), Nbd.EIO, null);
            }
            extents.add(new long[] {at, length});
            if (c.type() == Nbd.REPLY_TYPE_OFFSET_DATA) {
                data.put((int) at, p, p.position(), p.remaining());
            } // a hole reads as zeroes, which the buffer already holds
        }
        if (!coversExactly(extents, request.length())) {
            return Reply.simple(reply.cookie(), Nbd.EIO, null);
        }
        return Reply.simple(reply.cookie(), 0, data);
    }

    /**
     * The data of a reply whose only content is one data chunk covering the whole request, the usual answer to a
     * READ, shared rather than copied: a second buffer of up to 32 MiB per reply would be garbage at once.
     */
    private static ByteBuffer wholeInOneChunk(Request request, Reply reply) {
        ByteBuffer found = null;
        for (Chunk c : reply.chunks()) {
            if (c.type() == Nbd.REPLY_TYPE_OFFSET_HOLE || found != null && c.type() == Nbd.REPLY_TYPE_OFFSET_DATA) {
                return null;
            }
            if (c.type() == Nbd.REPLY_TYPE_OFFSET_DATA) {
                ByteBuffer p = c.payload();
                if (p.getLong() != request.offset() || p.remaining() != request.length()) {
                    return null;
                }
                found = p.slice();
            }
        }
        return found;
    }

    /** Whether the extents, each {offset, length}, tile [0, length) without gap or overlap. */
    private static boolean coversExactly(List<long[]> extents, long length) {
        extents.sort(Comparator.comparingLong(e -> e[0]));
        long end = 0;
        for (long[] e : extents) {
            if (e[0] != end) {
                return false;
            }
            end += e[1];
        }
        return end == length;
    }
}
