package org.flexnbd.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;

import org.junit.Test;

/**
 * Every malformed reply the fuzzing upstream of the issue passed on, each refused with the rule it broke; and the
 * valid shapes real servers send (nbdkit's holes and data mixed, several chunks, an ERROR_OFFSET then NONE), which
 * must pass.
 */
public class ReplyValidatorTest {
    private static final long EXPORT = 1L << 20;
    private static final int ALLOCATION = 1;
    private static final int DIRTY = 7;

    private final ReplyValidator structured = new ReplyValidator(true, Set.of(ALLOCATION), EXPORT);
    private final ReplyValidator simpleOnly = new ReplyValidator(false, Set.of(), EXPORT);

    // ---- the cases of the issue ----

    @Test
    public void aDataChunkOutsideTheRequestIsRefused() {
        Request read = read(1, 8192, 4096);
        violates(structured, read, "lies outside READ", data(1, 0, 4096, true));
        violates(new ReplyValidator(true, Set.of(), EXPORT), read, "lies outside", data(1, 8192 + 4095, 2, true));
        violates(new ReplyValidator(true, Set.of(), EXPORT), read, "lies outside", data(1, 8192 + 4096, 1, true));
    }

    @Test
    public void aSuccessCovering550Of4096BytesIsRefused() {
        violates(structured, read(2, 0, 4096), "covers 550 of its 4096 bytes", data(2, 0, 550, true));
    }

    @Test
    public void aSuccessWithAGapIsRefusedEvenWhenTheTotalComesFromSeveralChunks() {
        violates(structured, read(2, 0, 4096), "covers 3072 of its 4096 bytes", data(2, 0, 1024, false),
                hole(2, 2048, 2048, true));
    }

    @Test
    public void overlappingChunksAreRefused() {
        Request read = read(3, 0, 4096);
        violates(structured, read, "overlaps an earlier content chunk", data(3, 0, 2048, false),
                data(3, 2047, 2049, true));
        violates(new ReplyValidator(true, Set.of(), EXPORT), read, "overlaps", hole(3, 1024, 1024, false),
                data(3, 0, 4096, true));
        violates(new ReplyValidator(true, Set.of(), EXPORT), read, "overlaps", data(3, 2048, 2048, false),
                hole(3, 0, 4096, true));
    }

    @Test
    public void aSimpleReplyToAReadIsRefusedOnceStructuredRepliesWereNegotiated() {
        Request read = read(4, 0, 4096);
        violatesSimple(structured, read, Reply.simple(4, 0, ByteBuffer.allocate(4096)),
                "simple reply to READ [0, +4096) although structured replies were negotiated");
        violatesSimple(structured, read, Reply.simple(4, Nbd.EINVAL, null), "although structured replies");
    }

    @Test
    public void noneWithoutDoneIsRefused() {
        violates(structured, Request.of(Nbd.CMD_FLUSH, 0, 5, 0, 0), "NONE chunk without the DONE flag",
                new Chunk(0, Nbd.REPLY_TYPE_NONE, 5, ByteBuffer.allocate(0)));
    }

    @Test
    public void dataAnsweringWriteZeroesIsRefused() {
        violates(structured, Request.of(Nbd.CMD_WRITE_ZEROES, 0, 6, 0, 4096),
                "OFFSET_DATA chunk answering WRITE_ZEROES [0, +4096): content chunks answer READ only",
                data(6, 0, 4096, true));
        violates(new ReplyValidator(true, Set.of(), EXPORT), Request.of(Nbd.CMD_BLOCK_STATUS, 0, 6, 0, 4096),
                "OFFSET_HOLE chunk answering BLOCK_STATUS", hole(6, 0, 4096, true));
    }

    @Test
    public void anErrorOffsetOutsideTheRequestIsRefused() {
        violates(structured, Request.write(0, 7, 4096, ByteBuffer.allocate(512)), "ERROR_OFFSET at 4608 lies outside",
                errorOffset(7, Nbd.REPLY_FLAG_DONE, Nbd.EIO, 4096 + 512));
        violates(new ReplyValidator(true, Set.of(), EXPORT), read(7, 4096, 512), "ERROR_OFFSET at 4095 lies outside",
                errorOffset(7, Nbd.REPLY_FLAG_DONE, Nbd.EIO, 4095));
    }

    @Test
    public void extentsPastTheExportsEndAreRefused() {
        // The last extent may reach beyond the request (the spec allows it), never beyond the export.
        violates(structured, status(8, 0, EXPORT - 4096, 4096), "go past the export's end at " + EXPORT,
                Chunks.blockStatus(8, Nbd.REPLY_FLAG_DONE, ALLOCATION, 8192, 0));
    }

    @Test
    public void extentsReachingTheRequestsEndBeforeTheLastOneAreRefused() {
        violates(structured, status(8, 0, 0, 4096), "reach the end of BLOCK_STATUS [0, +4096) before the last",
                Chunks.blockStatus(8, Nbd.REPLY_FLAG_DONE, ALLOCATION, 4096, 0, 512, 1));
    }

    @Test
    public void anExtentOfZeroLengthIsRefused() {
        violates(structured, status(9, 0, 0, 4096), "extent 1 of context id 1 has length 0",
                Chunks.blockStatus(9, Nbd.REPLY_FLAG_DONE, ALLOCATION, 512, 0, 0, 1, 512, 0));
    }

    @Test
    public void anUnknownContextIdIsRefused() {
        violates(structured, status(10, 0, 0, 4096), "context id 7, which the server never assigned (assigned: [1])",
                Chunks.blockStatus(10, Nbd.REPLY_FLAG_DONE, DIRTY, 4096, 0));
    }

    @Test
    public void aSuccessfulBlockStatusWithoutExtentsIsRefused() {
        violates(structured, status(11, 0, 0, 4096), "without extents for context ids [1]", Chunks.none(11));
        ReplyValidator two = new ReplyValidator(true, Set.of(ALLOCATION, DIRTY), EXPORT);
        violates(two, status(11, 0, 0, 4096), "without extents for context ids [7]",
                Chunks.blockStatus(11, 0, ALLOCATION, 4096, 0), Chunks.none(11));
        violatesSimple(structured, status(11, 0, 0, 4096), Reply.simple(11, 0, null),
                "successful simple reply to BLOCK_STATUS");
    }

    @Test
    public void structuredChunksFromAServerThatNeverNegotiatedThemAreRefused() {
        violates(simpleOnly, read(12, 0, 4096), "did not negotiate structured replies", data(12, 0, 4096, true));
        violates(simpleOnly, Request.of(Nbd.CMD_FLUSH, 0, 12, 0, 0), "did not negotiate structured replies",
                Chunks.none(12));
        violates(simpleOnly, read(12, 0, 4096), "did not negotiate", Chunks.error(12, Nbd.REPLY_FLAG_DONE, Nbd.EIO,
                ""));
    }

    // ---- further rules ----

    @Test
    public void dontFragmentAllowsOneContentChunk() {
        Request read = Request.of(Nbd.CMD_READ, Nbd.CMD_FLAG_DF, 13, 0, 4096);
        violates(structured, read, "a second content chunk answering READ [0, +4096) with DF",
                data(13, 0, 2048, false), hole(13, 2048, 2048, true));
    }

    @Test
    public void reqOneAllowsExactlyOneExtentNoLongerThanTheRequest() {
        Request one = Request.of(Nbd.CMD_BLOCK_STATUS, Nbd.CMD_FLAG_REQ_ONE, 14, 0, 4096);
        violates(structured, one, "2 extents for context id 1 answering BLOCK_STATUS [0, +4096) with REQ_ONE",
                Chunks.blockStatus(14, Nbd.REPLY_FLAG_DONE, ALLOCATION, 1024, 0, 1024, 1));
        violates(new ReplyValidator(true, Set.of(ALLOCATION), EXPORT), one, "is longer than",
                Chunks.blockStatus(14, Nbd.REPLY_FLAG_DONE, ALLOCATION, 8192, 0));
    }

    @Test
    public void aContextGetsOneChunkPerReply() {
        violates(structured, status(15, 0, 0, 8192), "a second BLOCK_STATUS chunk for context id 1",
                Chunks.blockStatus(15, 0, ALLOCATION, 4096, 0), Chunks.blockStatus(15, Nbd.REPLY_FLAG_DONE,
                        ALLOCATION, 4096, 0));
    }

    @Test
    public void aHoleOfNoBytesIsRefused() {
        violates(structured, read(16, 0, 4096), "OFFSET_HOLE chunk describing no bytes", hole(16, 0, 0, false));
    }

    @Test
    public void contentAfterAnErrorOffsetInsideItIsRefused() {
        // "MUST ensure that the content chunk is sent first if a content and error chunk cover the same offset".
        violates(structured, read(17, 0, 4096), "covers an offset an earlier ERROR_OFFSET chunk reported",
                errorOffset(17, 0, Nbd.EIO, 1024), data(17, 0, 2048, true));
    }

    @Test
    public void anOffsetNearTwoToTheSixtyFourDoesNotWrapIntoTheRequest() {
        violates(structured, read(18, 4096, 4096), "lies outside", data(18, -4096, 8192, true));
    }

    @Test
    public void aReplyToNoOutstandingRequestIsRefused() {
        violates(structured, null, "chunk for no outstanding request", Chunks.none(19));
        violatesSimple(structured, null, Reply.simple(19, 0, null), "simple reply to no outstanding request");
    }

    @Test
    public void aSimpleReplyInTheMiddleOfAStructuredOneIsRefused() throws ProtocolViolation {
        Request flush = Request.of(Nbd.CMD_FLUSH, 0, 20, 0, 0);
        structured.checkChunk(flush, Chunks.error(20, 0, Nbd.EIO, "first"));
        violatesSimple(structured, flush, Reply.simple(20, 0, null), "two replies to one request");
    }

    @Test
    public void errorChunksCarryANonZeroErrorAndAMessageThatFits() {
        violates(structured, read(21, 0, 512), "ERROR chunk with error 0", Chunks.error(21, Nbd.REPLY_FLAG_DONE, 0,
                "no error"));
        ByteBuffer p = ByteBuffer.allocate(6).putInt(Nbd.EIO).putShort((short) 10).flip();
        violates(new ReplyValidator(true, Set.of(), EXPORT), read(21, 0, 512), "message of 10 bytes",
                new Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, 21, p));
    }

    @Test
    public void anUnknownChunkTypeWithoutTheErrorBitIsRefused() {
        violates(structured, read(22, 0, 512), "unknown chunk type 3",
                new Chunk(Nbd.REPLY_FLAG_DONE, 3, 22, ByteBuffer.allocate(0)));
    }

    // ---- valid replies, which must pass ----

    @Test
    public void simpleRepliesPassWithoutStructuredReplies() throws ProtocolViolation {
        simpleOnly.checkSimple(read(30, 0, 4096), Reply.simple(30, 0, ByteBuffer.allocate(4096)));
        simpleOnly.checkSimple(read(31, 0, 4096), Reply.simple(31, Nbd.EIO, null));
        simpleOnly.checkSimple(Request.write(0, 32, 0, ByteBuffer.allocate(512)), Reply.simple(32, 0, null));
        simpleOnly.checkSimple(Request.of(Nbd.CMD_BLOCK_STATUS, 0, 33, 0, 512), Reply.simple(33, Nbd.EINVAL, null));
        // An error value the spec does not list is still passed on.
        simpleOnly.checkSimple(Request.of(Nbd.CMD_TRIM, 0, 34, 0, 512), Reply.simple(34, 4242, null));
    }

    @Test
    public void simpleRepliesToAnythingButReadPassWithStructuredReplies() throws ProtocolViolation {
        structured.checkSimple(Request.write(0, 35, 0, ByteBuffer.allocate(512)), Reply.simple(35, 0, null));
        structured.checkSimple(Request.of(Nbd.CMD_FLUSH, 0, 36, 0, 0), Reply.simple(36, 0, null));
        structured.checkSimple(Request.of(Nbd.CMD_BLOCK_STATUS, 0, 37, 0, 512), Reply.simple(37, Nbd.EINVAL, null));
    }

    @Test
    public void oneDataChunkCoveringTheRead() throws ProtocolViolation {
        passes(structured, read(40, 8192, 4096), data(40, 8192, 4096, true));
        passes(structured, Request.of(Nbd.CMD_READ, Nbd.CMD_FLAG_DF, 41, 0, 4096), data(41, 0, 4096, true));
        passes(structured, Request.of(Nbd.CMD_READ, Nbd.CMD_FLAG_DF, 42, 0, 4096), hole(42, 0, 4096, false),
                Chunks.none(42));
    }

    @Test
    public void holesAndDataMixedInAnyOrderAsNbdkitSendsThem() throws ProtocolViolation {
        passes(structured, read(43, 0, 16384), hole(43, 0, 4096, false), data(43, 4096, 4096, false),
                hole(43, 8192, 4096, false), data(43, 12288, 4096, true));
        passes(structured, read(44, 0, 16384), data(44, 12288, 4096, false), hole(44, 0, 8192, false),
                data(44, 8192, 4096, false), Chunks.none(44));
    }

    @Test
    public void manyDataChunks() throws ProtocolViolation {
        Chunk[] chunks = new Chunk[64];
        for (int i = 0; i < chunks.length; i++) {
            chunks[i] = data(45, i * 512L, 512, i == chunks.length - 1);
        }
        passes(structured, read(45, 0, 64 * 512), chunks);
    }

    @Test
    public void errorOffsetThenNone() throws ProtocolViolation {
        passes(structured, read(46, 0, 8192), data(46, 0, 4096, false), errorOffset(46, 0, Nbd.EIO, 4096),
                Chunks.none(46));
        // Content may follow an error offset elsewhere; a reply with an error needs no full coverage.
        passes(structured, read(47, 0, 8192), errorOffset(47, 0, Nbd.EIO, 0), data(47, 4096, 4096, false),
                Chunks.none(47));
        passes(structured, Request.write(0, 48, 4096, ByteBuffer.allocate(4096)), errorOffset(48, 0, Nbd.ENOSPC,
                8191), Chunks.none(48));
    }

    @Test
    public void errorChunksAnswerAnything() throws ProtocolViolation {
        passes(structured, read(49, 0, 4096), Chunks.error(49, Nbd.REPLY_FLAG_DONE, Nbd.EINVAL, "bad flags"));
        passes(structured, read(50, 0, 4096), data(50, 0, 1024, false), Chunks.error(50, Nbd.REPLY_FLAG_DONE,
                Nbd.EIO, "disk"));
        passes(structured, status(51, 0, 0, 4096), Chunks.error(51, Nbd.REPLY_FLAG_DONE, Nbd.EINVAL, ""));
        passes(structured, Request.of(Nbd.CMD_FLUSH, 0, 52, 0, 0), Chunks.error(52, 0, Nbd.EIO, "x"),
                Chunks.none(52));
    }

    @Test
    public void unexpectedErrorChunksErrorTheReplyButBreakNoRule() throws ProtocolViolation {
        ByteBuffer p = ByteBuffer.allocate(10).putInt(Nbd.EIO).putShort((short) 0).putInt(99).flip();
        passes(structured, read(53, 0, 4096), new Chunk(Nbd.REPLY_FLAG_DONE, 0x8000 + 42, 53, p));
        // ERROR_OFFSET is not listed for FLUSH: an unexpected error chunk there, so an errored reply.
        passes(structured, Request.of(Nbd.CMD_FLUSH, 0, 54, 0, 0), errorOffset(54, Nbd.REPLY_FLAG_DONE, Nbd.EIO,
                123));
    }

    @Test
    public void noneAnswersAnythingButReadAndBlockStatusAlone() throws ProtocolViolation {
        passes(structured, Request.write(0, 55, 0, ByteBuffer.allocate(512)), Chunks.none(55));
        passes(structured, Request.of(Nbd.CMD_TRIM, 0, 56, 0, 512), Chunks.none(56));
        passes(structured, read(57, 0, 0), Chunks.none(57));
    }

    @Test
    public void blockStatusShapes() throws ProtocolViolation {
        passes(structured, status(60, 0, 0, 4096), Chunks.blockStatus(60, Nbd.REPLY_FLAG_DONE, ALLOCATION, 4096, 0));
        // Fewer extents than the range, and a last extent past the request but inside the export.
        passes(structured, status(61, 0, 0, 65536), Chunks.blockStatus(61, Nbd.REPLY_FLAG_DONE, ALLOCATION, 512, 3));
        passes(structured, status(62, 0, 0, 4096), Chunks.blockStatus(62, Nbd.REPLY_FLAG_DONE, ALLOCATION, 1024, 1,
                3072, 0));
        passes(structured, status(63, 0, 0, 4096), Chunks.blockStatus(63, Nbd.REPLY_FLAG_DONE, ALLOCATION, 1024, 1,
                1 << 19, 0));
        passes(structured, status(64, 0, EXPORT - 4096, 4096), Chunks.blockStatus(64, 0, ALLOCATION, 4096, 0),
                Chunks.none(64));
        passes(structured, Request.of(Nbd.CMD_BLOCK_STATUS, Nbd.CMD_FLAG_REQ_ONE, 65, 0, 4096),
                Chunks.blockStatus(65, Nbd.REPLY_FLAG_DONE, ALLOCATION, 512, 3));
        ReplyValidator two = new ReplyValidator(true, Set.of(ALLOCATION, DIRTY), EXPORT);
        passes(two, status(66, 0, 0, 4096), Chunks.blockStatus(66, 0, DIRTY, 4096, 0),
                Chunks.blockStatus(66, Nbd.REPLY_FLAG_DONE, ALLOCATION, 2048, 0, 2048, 1));
        // An error lets a context go without extents.
        passes(two, status(67, 0, 0, 4096), Chunks.blockStatus(67, 0, DIRTY, 4096, 0),
                errorOffset(67, Nbd.REPLY_FLAG_DONE, Nbd.EIO, 0));
    }

    @Test
    public void repliesToDifferentRequestsInterleave() throws ProtocolViolation {
        Request a = read(70, 0, 8192);
        Request b = read(71, 8192, 8192);
        structured.checkChunk(a, data(70, 0, 4096, false));
        structured.checkChunk(b, data(71, 8192, 4096, false));
        structured.checkChunk(a, hole(70, 4096, 4096, true));
        structured.checkChunk(b, data(71, 12288, 4096, true));
    }

    @Test
    public void aCookieMayBeUsedAgainOnceItsReplyIsDone() throws ProtocolViolation {
        passes(structured, read(72, 0, 4096), data(72, 0, 4096, true));
        passes(structured, read(72, 4096, 4096), hole(72, 4096, 4096, true));
    }

    @Test
    public void theViolationCarriesTheCookie() {
        try {
            structured.checkChunk(read(0xabcdefL, 0, 4096), data(0xabcdefL, 8192, 512, true));
            fail("no violation");
        } catch (ProtocolViolation e) {
            assertEquals(0xabcdefL, e.cookie());
            assertTrue(e.getMessage(), e.getMessage().startsWith("cookie 0000000000abcdef: "));
        }
    }

    // ---- helpers ----

    private static void passes(ReplyValidator v, Request request, Chunk... chunks) throws ProtocolViolation {
        for (Chunk c : chunks) {
            v.checkChunk(request, c);
        }
    }

    /** The chunks, in order, are refused at the last one, with a message holding {@code rule}. */
    private static void violates(ReplyValidator v, Request request, String rule, Chunk... chunks) {
        for (int i = 0; i < chunks.length; i++) {
            try {
                v.checkChunk(request, chunks[i]);
            } catch (ProtocolViolation e) {
                assertEquals("refused at chunk " + i + ": " + e.getMessage(), chunks.length - 1, i);
                assertTrue("'" + e.getMessage() + "' names the rule '" + rule + "'", e.getMessage().contains(rule));
                return;
            }
        }
        fail("accepted " + List.of(chunks) + " answering " + request);
    }

    private static void violatesSimple(ReplyValidator v, Request request, Reply reply, String rule) {
        try {
            v.checkSimple(request, reply);
            fail("accepted " + reply + " answering " + request);
        } catch (ProtocolViolation e) {
            assertTrue("'" + e.getMessage() + "' names the rule '" + rule + "'", e.getMessage().contains(rule));
        }
    }

    private static Request read(long cookie, long offset, int length) {
        return Request.of(Nbd.CMD_READ, 0, cookie, offset, length);
    }

    private static Request status(long cookie, int flags, long offset, int length) {
        return Request.of(Nbd.CMD_BLOCK_STATUS, flags, cookie, offset, length);
    }

    private static Chunk data(long cookie, long offset, int length, boolean done) {
        return Chunks.offsetData(cookie, done ? Nbd.REPLY_FLAG_DONE : 0, offset, ByteBuffer.allocate(length));
    }

    private static Chunk hole(long cookie, long offset, int length, boolean done) {
        return Chunks.offsetHole(cookie, done ? Nbd.REPLY_FLAG_DONE : 0, offset, length);
    }

    private static Chunk errorOffset(long cookie, int flags, int error, long offset) {
        byte[] m = "at offset".getBytes(StandardCharsets.UTF_8);
        ByteBuffer p = ByteBuffer.allocate(14 + m.length);
        p.putInt(error).putShort((short) m.length).put(m).putLong(offset).flip();
        return new Chunk(flags, Nbd.REPLY_TYPE_ERROR_OFFSET, cookie, p);
    }
}
