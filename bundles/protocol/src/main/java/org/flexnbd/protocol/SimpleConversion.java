package org.flexnbd.protocol;

import java.nio.ByteBuffer;

/**
 * Turns a structured reply into the simple reply a client that did not negotiate structured replies expects: the
 * first error wins (and carries no data); READ data is assembled from its data and hole chunks.
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
        ByteBuffer data = ByteBuffer.allocate((int) request.length());
        for (Chunk c : reply.chunks()) {
            if (c.type() != Nbd.REPLY_TYPE_OFFSET_DATA) {
                continue; // holes read as zeroes, which the buffer already holds
            }
            ByteBuffer p = c.payload();
            long at = p.getLong() - request.offset();
            if (at < 0 || at + p.remaining() > request.length()) {
                return Reply.simple(reply.cookie(), Nbd.EIO, null);
            }
            data.put((int) at, p, p.position(), p.remaining());
        }
        return Reply.simple(reply.cookie(), 0, data);
    }
}
