package org.flexnbd.upstream;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.ProtocolViolation;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;

/**
 * Turns the messages read on one upstream connection into complete replies: each is checked against its request as
 * it comes (a malformed one is never an answer), structured chunks are collected until DONE, and BLOCK_STATUS
 * context ids are renumbered to the ones the proxy's clients know. One per connection, used by its reader only.
 */
final class ReplyAssembler {
    /** Chunks of replies not yet DONE held at once: far more than any honest server's requests in flight need. */
    private static final long MAX_PARTIAL_BYTES = 4L * Nbd.MAX_PAYLOAD;

    private final ReplyValidator rules;
    private final Map<Integer, Integer> contextIds;
    private final Map<Long, List<Chunk>> partial = new HashMap<>();
    private long partialBytes;

    ReplyAssembler(ReplyValidator rules, Map<Integer, Integer> contextIds) {
        this.rules = rules;
        this.contextIds = contextIds;
    }

    /**
     * Takes {@code m}, an answer to {@code request} (null if it answers nothing sent); returns the complete reply
     * once it is, null while chunks are still to come. What breaks the protocol throws, with {@code m}'s memory
     * given back.
     */
    Reply add(ReplyMessage m, Request request) throws IOException {
        try {
            if (m.simple() != null) {
                rules.checkSimple(request, m.simple());
            } else {
                rules.checkChunk(request, m.chunk());
            }
        } catch (ProtocolViolation e) {
            release(m);
            throw e;
        }
        if (m.simple() != null) {
            return m.simple();
        }
        Chunk chunk = normalize(m.chunk());
        List<Chunk> chunks = partial.computeIfAbsent(chunk.cookie(), k -> new ArrayList<>());
        chunks.add(chunk);
        partialBytes += chunk.length();
        if (partialBytes > MAX_PARTIAL_BYTES) {
            throw new IOException("upstream sent " + partialBytes + " bytes of unfinished replies");
        }
        if (!chunk.isDone()) {
            return null;
        }
        partial.remove(chunk.cookie());
        for (Chunk done : chunks) {
            partialBytes -= done.length();
        }
        return Reply.structured(chunk.cookie(), chunks);
    }

    /** The connection has ended: unfinished replies are dropped (their requests are sent again elsewhere). */
    void discard() {
        partial.values().forEach(chunks -> chunks.forEach(Chunk::release));
        partial.clear();
        partialBytes = 0;
    }

    private static void release(ReplyMessage m) {
        if (m.simple() != null) {
            m.simple().release();
        } else {
            m.chunk().release();
        }
    }

    private Chunk normalize(Chunk chunk) {
        if (chunk.type() != Nbd.REPLY_TYPE_BLOCK_STATUS || contextIds.isEmpty()) {
            return chunk;
        }
        Integer id = contextIds.get(Chunks.contextId(chunk));
        if (id == null) {
            return chunk;
        }
        Chunk renumbered = Chunks.withContextId(chunk, id); // a copy: the original's memory goes back
        chunk.release();
        return renumbered;
    }
}
