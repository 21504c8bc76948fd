package org.flexnbd.downstream;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.SimpleConversion;
import org.flexnbd.protocol.UpstreamExport;

/**
 * An upstream reply as one client must see it, given what that client negotiated: simple replies for a client
 * without structured replies, its own meta context ids, the client's own READ out of a widened one. One per client.
 */
final class ReplyTranslation {
    private final ClientAgreement agreement;
    private volatile Map<Integer, Integer> contextIds;

    ReplyTranslation(ClientAgreement agreement, UpstreamExport upstream) {
        this.agreement = agreement;
        this.contextIds = clientIds(upstream, agreement);
    }

    /** A new upstream service numbers its contexts afresh: the client keeps its ids, mapped from the new ones. */
    void upstreamChanged(UpstreamExport upstream) {
        contextIds = clientIds(upstream, agreement);
    }

    /**
     * The reply for the client's {@code asked}, from the upstream's {@code reply} to {@code sent}; read-ahead narrows
     * a widened READ (read on connection {@code generation}).
     */
    Reply toClient(Request asked, Request sent, Reply reply, ReadAhead readAhead, long generation) {
        if (readAhead.isWidened(asked.cookie())) {
            return asNegotiated(asked, readAhead.narrow(asked, sent, reply, generation));
        }
        return agreement.structuredReplies() ? renumbered(reply) : SimpleConversion.toSimple(sent, reply);
    }

    /**
     * Why {@code r} asks for what this client did not negotiate, though the proxy's upstream connection did:
     * BLOCK_STATUS without a meta context selected. Null when it did not. Passed on, the upstream answered it for
     * the proxy's contexts, and the client got a success with no extents, which the spec forbids (nbdkit answers
     * EINVAL).
     */
    String notNegotiated(Request r) {
        if (r.type() == Nbd.CMD_BLOCK_STATUS && agreement.metaContexts().isEmpty()) {
            return "BLOCK_STATUS without a meta context selected";
        }
        return null;
    }

    /** An error the proxy answers itself: the spec forbids a simple reply to a READ once structured replies are on. */
    Reply error(long cookie, int error) {
        if (!agreement.structuredReplies()) {
            return Reply.simple(cookie, error, null);
        }
        return Reply.structured(cookie, List.of(Chunks.error(cookie, Nbd.REPLY_FLAG_DONE, error, "")));
    }

    /** A simple reply to a READ, as this client negotiated: itself, or one data (or error) chunk. */
    Reply asNegotiated(Request r, Reply simple) {
        if (!agreement.structuredReplies()) {
            return simple;
        }
        Chunk only = simple.error() != 0
                ? Chunks.error(r.cookie(), Nbd.REPLY_FLAG_DONE, simple.error(), "")
                : Chunks.offsetData(r.cookie(), Nbd.REPLY_FLAG_DONE, r.offset(), simple.data());
        return Reply.structured(r.cookie(), List.of(only));
    }

    /** BLOCK_STATUS chunks carry the client's context ids; contexts the client did not select are left out. */
    private Reply renumbered(Reply reply) {
        if (!reply.isStructured()) {
            return reply;
        }
        Map<Integer, Integer> ids = contextIds;
        List<Chunk> chunks = new ArrayList<>();
        boolean changed = false;
        for (Chunk c : reply.chunks()) {
            if (c.type() != Nbd.REPLY_TYPE_BLOCK_STATUS) {
                chunks.add(c);
                continue;
            }
            changed = true;
            Integer id = ids.get(Chunks.contextId(c));
            if (id != null) {
                chunks.add(Chunks.withContextId(c, id).withFlags(0));
            }
        }
        if (!changed) {
            return reply;
        }
        if (chunks.isEmpty()) {
            chunks.add(Chunks.none(reply.cookie()));
        } else {
            int last = chunks.size() - 1;
            chunks.set(last, chunks.get(last).withFlags(Nbd.REPLY_FLAG_DONE));
        }
        return Reply.structured(reply.cookie(), chunks);
    }

    /** The upstream's context id, to the id this client was given for the same context. */
    private static Map<Integer, Integer> clientIds(UpstreamExport upstream, ClientAgreement agreement) {
        Map<Integer, Integer> ids = new HashMap<>();
        agreement.metaContexts().forEach((clientId, name) -> {
            Integer upstreamId = upstream.metaContexts().get(name);
            if (upstreamId != null) {
                ids.put(upstreamId, clientId);
            }
        });
        return ids;
    }
}
