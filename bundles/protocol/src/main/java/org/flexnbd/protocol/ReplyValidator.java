package org.flexnbd.protocol;

import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks a server's replies against the requests they answer and what was negotiated on that connection, as they
 * arrive: each structured chunk on its own, and the whole reply at its DONE chunk. The codec has already checked
 * that every message is well formed (magics, lengths, known types); this is about whether the answer is one the
 * spec allows for that request. Anything else throws {@link ProtocolViolation}, naming the rule; the section and
 * wording quoted are from the NBD spec ({@code doc/proto.md}).
 *
 * <p>One per connection, used by the one thread that reads it: it keeps the structured replies not yet DONE.
 *
 * <p>Error values are not judged: a simple reply's error and an error chunk's non-zero error pass as they came
 * ("The client SHOULD treat an unexpected error value as if it had been NBD_EINVAL, rather than disconnecting").
 */
public final class ReplyValidator {
    private final boolean structuredReplies;
    private final Set<Integer> contextIds;
    private final long exportSize;
    private final Map<Long, ReplyProgress> open = new HashMap<>();

    /**
     * @param structuredReplies whether structured replies were negotiated with this server
     * @param contextIds the meta context ids this server assigned
     * @param exportSize the export's size, which no extent may go past
     */
    public ReplyValidator(boolean structuredReplies, Collection<Integer> contextIds, long exportSize) {
        this.structuredReplies = structuredReplies;
        this.contextIds = Set.copyOf(contextIds);
        this.exportSize = exportSize;
    }

    /** For the replies on a connection whose handshake ended with {@code e}. */
    public static ReplyValidator of(UpstreamExport e) {
        return new ReplyValidator(e.structuredReplies(), e.metaContexts().values(), e.export().size());
    }

    /** Checks a simple reply to {@code request} (null when no request with its cookie is outstanding). */
    public void checkSimple(Request request, Reply reply) throws ProtocolViolation {
        long cookie = reply.cookie();
        if (request == null) {
            throw new ProtocolViolation(cookie, "simple reply to no outstanding request");
        }
        if (open.containsKey(cookie)) {
            throw new ProtocolViolation(cookie, "simple reply to " + describe(request)
                    + " whose structured reply is not DONE: two replies to one request");
        }
        // "Structured reply chunk message": if structured replies are negotiated, the server "MUST NOT use a
        // simple reply for NBD_CMD_READ (even for the case of an early EINVAL due to bad flags)".
        if (structuredReplies && request.type() == Nbd.CMD_READ) {
            throw new ProtocolViolation(cookie, "simple reply to " + describe(request)
                    + " although structured replies were negotiated");
        }
        // "NBD_CMD_BLOCK_STATUS": "For a successful return, the server MUST use a structured reply".
        if (reply.error() == 0 && request.type() == Nbd.CMD_BLOCK_STATUS) {
            throw new ProtocolViolation(cookie, "successful simple reply to " + describe(request)
                    + ": a successful BLOCK_STATUS reply is structured, with extents");
        }
    }

    /** Checks one structured chunk answering {@code request} (null when no request with its cookie is outstanding). */
    public void checkChunk(Request request, Chunk chunk) throws ProtocolViolation {
        long cookie = chunk.cookie();
        if (request == null) {
            throw new ProtocolViolation(cookie, typeName(chunk.type()) + " chunk for no outstanding request");
        }
        // "A structured reply ...: The server MUST NOT send this reply type unless the client has successfully
        // negotiated structured replies via NBD_OPT_STRUCTURED_REPLY."
        if (!structuredReplies) {
            throw new ProtocolViolation(cookie, typeName(chunk.type()) + " chunk answering " + describe(request)
                    + " from a server that did not negotiate structured replies");
        }
        ReplyProgress reply = open.computeIfAbsent(cookie, k -> new ReplyProgress());
        switch (chunk.type()) {
            case Nbd.REPLY_TYPE_NONE -> checkNone(chunk);
            case Nbd.REPLY_TYPE_OFFSET_DATA, Nbd.REPLY_TYPE_OFFSET_HOLE -> checkContent(request, chunk, reply);
            case Nbd.REPLY_TYPE_BLOCK_STATUS -> checkBlockStatus(request, chunk, reply);
            case Nbd.REPLY_TYPE_ERROR -> {
                checkError(chunk, 6);
                reply.errored();
            }
            case Nbd.REPLY_TYPE_ERROR_OFFSET -> checkErrorOffset(request, chunk, reply);
            default -> {
                // "If the client receives an unknown or unexpected type with bit 15 set, it MUST consider the
                // current reply as errored, but MAY continue transmission"; any other type is a hard disconnect.
                if (!chunk.isError()) {
                    throw new ProtocolViolation(cookie, "unknown chunk type " + chunk.type());
                }
                checkError(chunk, 6);
                reply.errored();
            }
        }
        if (chunk.isDone()) {
            open.remove(cookie);
            checkComplete(request, chunk, reply);
        }
    }

    /** "NBD_REPLY_TYPE_NONE": "length MUST be 0", and "MUST always be used with the NBD_REPLY_FLAG_DONE bit set". */
    private static void checkNone(Chunk chunk) throws ProtocolViolation {
        if (chunk.length() != 0) {
            throw new ProtocolViolation(chunk.cookie(), "NONE chunk with " + chunk.length() + " payload bytes");
        }
        if (!chunk.isDone()) {
            throw new ProtocolViolation(chunk.cookie(), "NONE chunk without the DONE flag");
        }
    }

    /**
     * OFFSET_DATA and OFFSET_HOLE: "Valid as a reply to NBD_CMD_READ"; each "MUST describe at least one byte", "MUST
     * lie within the bounds of the original offset and length of the client's request, and MUST NOT overlap with
     * the bounds of any earlier content chunk or error chunk in the same reply"; with NBD_CMD_FLAG_DF "the server
     * MUST send at most one content chunk".
     */
    private static void checkContent(Request request, Chunk chunk, ReplyProgress reply) throws ProtocolViolation {
        long cookie = chunk.cookie();
        String type = typeName(chunk.type());
        if (request.type() != Nbd.CMD_READ) {
            throw new ProtocolViolation(cookie, type + " chunk answering " + describe(request)
                    + ": content chunks answer READ only");
        }
        ByteBuffer p = chunk.payload();
        boolean data = chunk.type() == Nbd.REPLY_TYPE_OFFSET_DATA;
        if (data ? p.remaining() < 9 : p.remaining() != 12) {
            throw new ProtocolViolation(cookie, type + " chunk of " + p.remaining() + " payload bytes");
        }
        long offset = p.getLong();
        long length = data ? p.remaining() : p.getInt() & 0xffffffffL;
        if (length == 0) {
            throw new ProtocolViolation(cookie, type + " chunk describing no bytes");
        }
        // Unsigned arithmetic throughout: an offset near 2^64 must not wrap round into the request.
        long start = offset - request.offset();
        if (Long.compareUnsigned(offset, request.offset()) < 0 || Long.compareUnsigned(start, request.length()) > 0
                || length > request.length() - start) {
            throw new ProtocolViolation(cookie, type + " " + range(offset, length) + " lies outside "
                    + describe(request));
        }
        long end = start + length;
        if (reply.overlapsContent(start, end)) {
            throw new ProtocolViolation(cookie, type + " " + range(offset, length)
                    + " overlaps an earlier content chunk of the reply to " + describe(request));
        }
        if (reply.holdsErrorOffset(start, end)) {
            throw new ProtocolViolation(cookie, type + " " + range(offset, length)
                    + " covers an offset an earlier ERROR_OFFSET chunk reported (the content chunk comes first)");
        }
        if (request.hasFlag(Nbd.CMD_FLAG_DF) && reply.contentChunks() > 0) {
            throw new ProtocolViolation(cookie, "a second content chunk answering " + describe(request)
                    + " with DF (don't fragment)");
        }
        reply.addContent(start, end);
    }

    /**
     * BLOCK_STATUS: only for NBD_CMD_BLOCK_STATUS, for a context id the server assigned, once per context; "one or
     * more descriptors", each "length ... MUST be nonzero"; with REQ_ONE "exactly one descriptor, and that
     * descriptor MUST NOT exceed the length of the original request"; otherwise "the sum of the length fields of
     * the first N-1 extents (if any) MUST be less than the requested length". Extents are "consecutive portions of
     * the file starting from specified offset", so none may go past the export's end.
     */
    private void checkBlockStatus(Request request, Chunk chunk, ReplyProgress reply) throws ProtocolViolation {
        long cookie = chunk.cookie();
        if (request.type() != Nbd.CMD_BLOCK_STATUS) {
            throw new ProtocolViolation(cookie, "BLOCK_STATUS chunk answering " + describe(request));
        }
        ByteBuffer p = chunk.payload();
        if (p.remaining() < 12 || (p.remaining() - 4) % 8 != 0) {
            throw new ProtocolViolation(cookie, "BLOCK_STATUS chunk of " + p.remaining()
                    + " payload bytes: not 4 + 8n with n > 0");
        }
        int context = p.getInt();
        if (!contextIds.contains(context)) {
            throw new ProtocolViolation(cookie, "BLOCK_STATUS chunk for context id " + Integer.toUnsignedString(context)
                    + ", which the server never assigned (assigned: " + new TreeSet<>(contextIds) + ")");
        }
        if (!reply.addContext(context)) {
            throw new ProtocolViolation(cookie, "a second BLOCK_STATUS chunk for context id "
                    + Integer.toUnsignedString(context) + " in one reply");
        }
        int descriptors = p.remaining() / 8;
        boolean one = request.hasFlag(Nbd.CMD_FLAG_REQ_ONE);
        if (one && descriptors != 1) {
            throw new ProtocolViolation(cookie, descriptors + " extents for context id " + context
                    + " answering " + describe(request) + " with REQ_ONE");
        }
        long sum = 0;
        for (int i = 0; i < descriptors; i++) {
            long length = p.getInt() & 0xffffffffL;
            p.getInt(); // the status flags are the context's to define
            if (length == 0) {
                throw new ProtocolViolation(cookie, "extent " + i + " of context id " + context + " has length 0");
            }
            if (i < descriptors - 1 && sum + length >= request.length()) {
                throw new ProtocolViolation(cookie, "extents of context id " + context + " reach the end of "
                        + describe(request) + " before the last of them");
            }
            sum += length;
        }
        if (one && sum > request.length()) {
            throw new ProtocolViolation(cookie, "the one extent of context id " + context + " (" + sum
                    + " bytes) is longer than " + describe(request) + " with REQ_ONE");
        }
        if (Long.compareUnsigned(request.offset(), exportSize) > 0 || sum > exportSize - request.offset()) {
            throw new ProtocolViolation(cookie, "extents of context id " + context + " "
                    + range(request.offset(), sum) + " go past the export's end at " + exportSize);
        }
    }

    /**
     * ERROR_OFFSET: the offset "MUST lie within the original offset and length of the request". It is "valid as a
     * reply to" READ, WRITE, TRIM, CACHE, WRITE_ZEROES and BLOCK_STATUS; to anything else it is an unexpected error
     * chunk, which errors the reply but breaks no rule.
     */
    private static void checkErrorOffset(Request request, Chunk chunk, ReplyProgress reply) throws ProtocolViolation {
        checkError(chunk, 14);
        ByteBuffer p = chunk.payload();
        long offset = p.getLong(p.limit() - 8);
        long at = offset - request.offset();
        boolean ranged = switch (request.type()) {
            case Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_TRIM, Nbd.CMD_CACHE, Nbd.CMD_WRITE_ZEROES,
                    Nbd.CMD_BLOCK_STATUS -> true;
            default -> false;
        };
        if (ranged && (Long.compareUnsigned(offset, request.offset()) < 0
                || Long.compareUnsigned(at, request.length()) >= 0)) {
            throw new ProtocolViolation(chunk.cookie(), "ERROR_OFFSET at " + Long.toUnsignedString(offset)
                    + " lies outside " + describe(request));
        }
        if (ranged) {
            reply.addErrorOffset(at);
        } else {
            reply.errored();
        }
    }

    /** Every error chunk: "error (MUST be nonzero)", and a message that fits the chunk and is an NBD string. */
    private static void checkError(Chunk chunk, int fixedBytes) throws ProtocolViolation {
        ByteBuffer p = chunk.payload();
        String type = typeName(chunk.type());
        if (p.remaining() < fixedBytes) {
            throw new ProtocolViolation(chunk.cookie(), type + " chunk of " + p.remaining() + " payload bytes");
        }
        if (p.getInt(p.position()) == 0) {
            throw new ProtocolViolation(chunk.cookie(), type + " chunk with error 0");
        }
        int message = p.getShort(p.position() + 4) & 0xffff;
        if (message > Nbd.MAX_STRING || message > p.remaining() - fixedBytes) {
            throw new ProtocolViolation(chunk.cookie(), type + " chunk with a message of " + message
                    + " bytes in a payload of " + p.remaining());
        }
    }

    /**
     * The reply is DONE. A successful READ: "the server MUST send enough data chunks to cover the entire region
     * described by the offset and length of the client's request". A successful BLOCK_STATUS: "exactly one chunk
     * of type NBD_REPLY_TYPE_BLOCK_STATUS per selected context id".
     */
    private void checkComplete(Request request, Chunk last, ReplyProgress reply) throws ProtocolViolation {
        if (reply.isErrored()) {
            return; // "A structured reply is considered successful only if it did not contain any error chunks"
        }
        long cookie = last.cookie();
        if (request.type() == Nbd.CMD_READ && reply.coveredBytes() != request.length()) {
            throw new ProtocolViolation(cookie, "successful reply to " + describe(request) + " covers "
                    + reply.coveredBytes() + " of its " + request.length() + " bytes");
        }
        if (request.type() == Nbd.CMD_BLOCK_STATUS && !reply.contexts().equals(contextIds)) {
            Set<Integer> missing = new TreeSet<>(contextIds);
            missing.removeAll(reply.contexts());
            throw new ProtocolViolation(cookie, "successful reply to " + describe(request)
                    + " without extents for context ids " + missing);
        }
    }

    private static String describe(Request r) {
        return Nbd.commandName(r.type()) + " " + range(r.offset(), r.length());
    }

    private static String range(long offset, long length) {
        return "[" + Long.toUnsignedString(offset) + ", +" + length + ")";
    }

    private static String typeName(int type) {
        return switch (type) {
            case Nbd.REPLY_TYPE_NONE -> "NONE";
            case Nbd.REPLY_TYPE_OFFSET_DATA -> "OFFSET_DATA";
            case Nbd.REPLY_TYPE_OFFSET_HOLE -> "OFFSET_HOLE";
            case Nbd.REPLY_TYPE_BLOCK_STATUS -> "BLOCK_STATUS";
            case Nbd.REPLY_TYPE_ERROR -> "ERROR";
            case Nbd.REPLY_TYPE_ERROR_OFFSET -> "ERROR_OFFSET";
            default -> "type " + type;
        };
    }
}
