package org.flexnbd.demo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.WireOutput;

/**
 * Sends replies the way the client negotiated: simple replies, or structured ones (errors as error chunks, since a
 * structured READ may not be answered with a simple reply). Each reply is flushed whole.
 */
final class ReplyWriter {
    private final WireOutput out;
    private final boolean structured;

    ReplyWriter(WireOutput out, boolean structured) {
        this.out = out;
        this.structured = structured;
    }

    boolean structured() {
        return structured;
    }

    /** Success without data (a simple reply is allowed for it either way). */
    void ok(long cookie) throws IOException {
        ReplyCodec.writeSimple(out, cookie, 0, null);
        out.flush();
    }

    void error(long cookie, int error, String message) throws IOException {
        if (structured) {
            ReplyCodec.writeChunk(out, Chunks.error(cookie, Nbd.REPLY_FLAG_DONE, error, limit(message)));
        } else {
            ReplyCodec.writeSimple(out, cookie, error, null);
        }
        out.flush();
    }

    /** A simple READ reply: the header, then the data. */
    void data(long cookie, ByteBuffer data) throws IOException {
        ReplyCodec.writeSimple(out, cookie, 0, data);
        out.flush();
    }

    /** A structured reply; the last chunk gets the DONE flag. */
    void chunks(List<Chunk> chunks) throws IOException {
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            ReplyCodec.writeChunk(out, i == chunks.size() - 1 ? c.withFlags(c.flags() | Nbd.REPLY_FLAG_DONE) : c);
        }
        out.flush();
    }

    /** Error messages are NBD strings: short, and at most 4096 bytes. */
    private static String limit(String message) {
        String m = message == null ? "" : message;
        return m.length() > 200 ? m.substring(0, 200) : m;
    }
}
