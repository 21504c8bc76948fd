package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;

import org.junit.Test;

public class ReplyCodecTest {
    private static final long COOKIE = 0x1122334455667788L;

    private final Map<Long, Request> outstanding = new HashMap<>();

    private LongFunction<Request> requests() {
        return outstanding::get;
    }

    private void expect(Request r) {
        outstanding.put(r.cookie(), r);
    }

    private ReplyMessage read(byte[] wire) throws IOException {
        return ReplyCodec.read(Wire.input(wire), requests(), Nbd.MAX_PAYLOAD);
    }

    private NbdException fatal(byte[] wire) throws IOException {
        return fatal(wire, Nbd.MAX_PAYLOAD);
    }

    private NbdException fatal(byte[] wire, int max) throws IOException {
        try {
            ReplyMessage m = ReplyCodec.read(Wire.input(wire), requests(), max);
            fail("decoded " + m);
            return null;
        } catch (NbdException e) {
            assertTrue(e.getMessage(), e.isFatal());
            return e;
        }
    }

    // Simple replies.

    @Test
    public void simpleReplyWithDataIsHeaderThenData() throws IOException {
        byte[] data = Bytes.pattern(4096, 5);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeSimple(out, COOKIE, 0, ByteBuffer.wrap(data)));
        assertArrayEquals(Bytes.simpleReply(0, COOKIE).raw(data).array(), wire);
        assertEquals(Nbd.SIMPLE_REPLY_HEADER_LENGTH + 4096, wire.length);
    }

    @Test
    public void simpleReplyBytes() throws IOException {
        byte[] wire = Wire.encode(out -> ReplyCodec.writeSimple(out, 0x0102030405060708L, Nbd.ENOSPC, null));
        byte[] expected = {0x67, 0x44, 0x66, (byte) 0x98, 0, 0, 0, 28, 1, 2, 3, 4, 5, 6, 7, 8};
        assertArrayEquals(expected, wire);
    }

    @Test
    public void simpleErrorReplyCarriesNoDataEvenWhenGivenSome() throws IOException {
        byte[] wire = Wire.encode(out -> ReplyCodec.writeSimple(out, COOKIE, Nbd.EIO, ByteBuffer.allocate(512)));
        assertArrayEquals(Bytes.simpleReply(Nbd.EIO, COOKIE).array(), wire);
    }

    @Test
    public void simpleReplyWithoutData() throws IOException {
        byte[] wire = Wire.encode(out -> ReplyCodec.write(out, Reply.simple(COOKIE, 0, null)));
        assertArrayEquals(Bytes.simpleReply(0, COOKIE).array(), wire);
    }

    @Test
    public void writingDoesNotMoveTheCallersBuffer() throws IOException {
        ByteBuffer data = ByteBuffer.wrap(Bytes.pattern(100, 1));
        Wire.encode(out -> ReplyCodec.writeSimple(out, COOKIE, 0, data));
        assertEquals(0, data.position());
        assertEquals(100, data.remaining());
    }

    @Test
    public void simpleReadReplyIsReadWithTheRequestsLength() throws IOException {
        byte[] data = Bytes.pattern(1000, 3);
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 1000));
        expect(Request.of(Nbd.CMD_WRITE, 0, 2, 0, 0));
        Bytes stream = Bytes.simpleReply(0, COOKIE).raw(data).raw(Bytes.simpleReply(0, 2));
        WireInput in = Wire.input(stream.array(), 64);
        ReplyMessage m = ReplyCodec.read(in, requests(), Nbd.MAX_PAYLOAD);
        assertNull(m.chunk());
        assertEquals(COOKIE, m.cookie());
        assertEquals(0, m.simple().error());
        assertFalse(m.simple().isStructured());
        assertArrayEquals(data, Wire.remaining(m.simple().data()));
        ReplyMessage next = ReplyCodec.read(in, requests(), Nbd.MAX_PAYLOAD);
        assertEquals(2, next.cookie());
        assertEquals(0, next.simple().data().remaining());
    }

    @Test
    public void simpleReadErrorHasNoDataAndTheStreamStaysInStep() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 1000));
        expect(Request.of(Nbd.CMD_FLUSH, 0, 9, 0, 0));
        Bytes stream = Bytes.simpleReply(Nbd.EIO, COOKIE).raw(Bytes.simpleReply(0, 9));
        WireInput in = Wire.input(stream);
        ReplyMessage m = ReplyCodec.read(in, requests(), Nbd.MAX_PAYLOAD);
        assertEquals(Nbd.EIO, m.simple().error());
        assertEquals(0, m.simple().data().remaining());
        assertEquals(9, ReplyCodec.read(in, requests(), Nbd.MAX_PAYLOAD).cookie());
    }

    @Test
    public void simpleReplyRoundTrip() throws IOException {
        byte[] data = Bytes.pattern(777, 8);
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 777));
        byte[] wire = Wire.encode(out -> ReplyCodec.write(out, Reply.simple(COOKIE, 0, ByteBuffer.wrap(data))));
        assertArrayEquals(data, Wire.remaining(read(wire).simple().data()));
    }

    // Structured chunks, every type.

    @Test
    public void noneChunk() throws IOException {
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, Chunks.none(COOKIE)));
        assertArrayEquals(Bytes.chunkHeader(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, COOKIE, 0).array(), wire);
        assertEquals(Nbd.CHUNK_HEADER_LENGTH, wire.length);
        expect(Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0));
        Chunk c = read(wire).chunk();
        assertTrue(c.isDone());
        assertEquals(Nbd.REPLY_TYPE_NONE, c.type());
        assertEquals(0, c.length());
    }

    @Test
    public void chunkHeaderBytes() throws IOException {
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, Chunks.none(0x0102030405060708L)));
        byte[] expected = {0x66, (byte) 0x8e, 0x33, (byte) 0xef, 0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0};
        assertArrayEquals(expected, wire);
    }

    @Test
    public void offsetDataChunk() throws IOException {
        byte[] data = Bytes.pattern(5000, 2);
        Chunk chunk = Chunks.offsetData(COOKIE, 0, 0x100000000L, ByteBuffer.wrap(data));
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, chunk));
        assertArrayEquals(Bytes.chunkHeader(0, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 5008).u64(0x100000000L).raw(data)
                .array(), wire);
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0x100000000L, 5000));
        Chunk c = read(wire).chunk();
        assertFalse(c.isDone());
        assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, c.type());
        ByteBuffer p = c.payload();
        assertEquals(0x100000000L, p.getLong());
        assertArrayEquals(data, Wire.remaining(p));
    }

    @Test
    public void offsetHoleChunk() throws IOException {
        Chunk chunk = Chunks.offsetHole(COOKIE, Nbd.REPLY_FLAG_DONE, 4096, 0x80000000);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, chunk));
        assertArrayEquals(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_HOLE, COOKIE, 12).u64(4096).u32(0x80000000L)
                .array(), wire);
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 4096, 4096));
        Chunk c = read(wire).chunk();
        assertTrue(c.isDone());
        assertEquals(12, c.length());
    }

    @Test
    public void errorChunkWithAMessage() throws IOException {
        String message = "disk on fire \u00e9";
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        Chunk chunk = Chunks.error(COOKIE, Nbd.REPLY_FLAG_DONE, Nbd.EIO, message);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, chunk));
        assertArrayEquals(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR, COOKIE, 6 + m.length).u32(Nbd.EIO).u16(m.length)
                .raw(m).array(), wire);
        expect(Request.of(Nbd.CMD_WRITE, 0, COOKIE, 0, 0));
        Chunk c = read(wire).chunk();
        assertTrue(c.isError());
        assertEquals(Nbd.EIO, c.error());
    }

    @Test
    public void errorChunkWithoutAMessage() throws IOException {
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, Chunks.error(COOKIE, 1, Nbd.EPERM, "")));
        assertArrayEquals(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR, COOKIE, 6).u32(Nbd.EPERM).u16(0).array(), wire);
    }

    @Test
    public void errorOffsetChunkIsRead() throws IOException {
        byte[] wire = Bytes.chunkHeader(0, Nbd.REPLY_TYPE_ERROR_OFFSET, COOKIE, 6 + 3 + 8).u32(Nbd.EIO).u16(3)
                .text("bad").u64(8192).array();
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 65536));
        Chunk c = read(wire).chunk();
        assertTrue(c.isError());
        assertEquals(Nbd.EIO, c.error());
        assertEquals(17, c.length());
    }

    @Test
    public void unknownErrorChunkTypeIsAnErrorNotAViolation() throws IOException {
        int type = 0x8000 | 77;
        byte[] wire = Bytes.chunkHeader(0, type, COOKIE, 6 + 2 + 5).u32(Nbd.ENOSPC).u16(2).text("no").zeroes(5)
                .array();
        expect(Request.of(Nbd.CMD_WRITE, 0, COOKIE, 0, 0));
        Chunk c = read(wire).chunk();
        assertTrue(c.isError());
        assertEquals(Nbd.ENOSPC, c.error());
    }

    @Test
    public void blockStatusChunk() throws IOException {
        Chunk chunk = Chunks.blockStatus(COOKIE, Nbd.REPLY_FLAG_DONE, 7, 4096, 0, 8192, 3);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out, chunk));
        assertArrayEquals(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_BLOCK_STATUS, COOKIE, 20).u32(7).u32(4096).u32(0)
                .u32(8192).u32(3).array(), wire);
        expect(Request.of(Nbd.CMD_BLOCK_STATUS, 0, COOKIE, 0, 12288));
        Chunk c = read(wire).chunk();
        assertEquals(7, Chunks.contextId(c));
        assertEquals(20, c.length());
    }

    @Test
    public void structuredReplyIsWrittenChunkAfterChunk() throws IOException {
        byte[] data = Bytes.pattern(10, 0);
        Reply reply = Reply.structured(COOKIE, List.of(Chunks.offsetData(COOKIE, 0, 0, ByteBuffer.wrap(data)),
                Chunks.offsetHole(COOKIE, 0, 10, 10), Chunks.none(COOKIE)));
        byte[] wire = Wire.encode(out -> ReplyCodec.write(out, reply));
        Bytes expected = Bytes.chunkHeader(0, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 18).u64(0).raw(data)
                .raw(Bytes.chunkHeader(0, Nbd.REPLY_TYPE_OFFSET_HOLE, COOKIE, 12).u64(10).u32(10))
                .raw(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_NONE, COOKIE, 0));
        assertArrayEquals(expected.array(), wire);

        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 20));
        WireInput in = Wire.input(wire);
        assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, ReplyCodec.read(in, requests(), 100).chunk().type());
        assertEquals(Nbd.REPLY_TYPE_OFFSET_HOLE, ReplyCodec.read(in, requests(), 100).chunk().type());
        assertTrue(ReplyCodec.read(in, requests(), 100).chunk().isDone());
    }

    @Test
    public void chunksAndSimpleRepliesInterleave() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, 1, 0, 4));
        expect(Request.of(Nbd.CMD_FLUSH, 0, 2, 0, 0));
        Bytes stream = Bytes.chunkHeader(0, Nbd.REPLY_TYPE_OFFSET_DATA, 1, 12).u64(0).u32(0xdeadbeefL)
                .raw(Bytes.simpleReply(0, 2)).raw(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_NONE, 1, 0));
        WireInput in = Wire.input(stream);
        assertNotNull(ReplyCodec.read(in, requests(), 100).chunk());
        assertNotNull(ReplyCodec.read(in, requests(), 100).simple());
        assertTrue(ReplyCodec.read(in, requests(), 100).chunk().isDone());
    }

    // Malformed replies: all fatal.

    @Test
    public void badReplyMagic() throws IOException {
        expect(Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0));
        byte[] wire = Bytes.simpleReply(0, COOKIE).array();
        wire[0] = 0x12;
        fatal(wire);
        fatal(Bytes.request(0, 0, COOKIE, 0, 0).array());
    }

    @Test
    public void simpleReplyForAnUnknownCookie() throws IOException {
        expect(Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0));
        fatal(Bytes.simpleReply(0, COOKIE + 1).array());
    }

    @Test
    public void chunkForAnUnknownCookie() throws IOException {
        expect(Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_NONE, 42, 0).array());
    }

    @Test
    public void chunkOfUnknownType() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        for (int type : new int[] {3, 4, 6, 0x7fff}) {
            fatal(Bytes.chunkHeader(0, type, COOKIE, 8).u64(0).array());
        }
    }

    @Test
    public void unknownReplyFlags() throws IOException {
        expect(Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0));
        fatal(Bytes.chunkHeader(3, Nbd.REPLY_TYPE_NONE, COOKIE, 0).array());
    }

    @Test
    public void noneChunkWithPayload() throws IOException {
        expect(Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_NONE, COOKIE, 4).u32(0).array());
    }

    @Test
    public void holeChunkOfTheWrongSize() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_HOLE, COOKIE, 11).u64(0).u16(0).u8(1).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_HOLE, COOKIE, 16).u64(0).u32(512).u32(0).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_HOLE, COOKIE, 8).u64(0).array());
    }

    @Test
    public void dataChunkWithoutData() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 8).u64(0).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 0).array());
    }

    @Test
    public void errorChunkWhoseMessageLengthDisagreesWithTheChunkLength() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        // message says 10, only 5 bytes follow
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR, COOKIE, 11).u32(Nbd.EIO).u16(10).text("short").array());
        // message says 2, 5 bytes follow
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR, COOKIE, 11).u32(Nbd.EIO).u16(2).text("extra").array());
        // ERROR_OFFSET without room for its offset
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR_OFFSET, COOKIE, 9).u32(Nbd.EIO).u16(3).text("bad").array());
        // an unknown error type whose message does not fit
        fatal(Bytes.chunkHeader(1, 0x8003, COOKIE, 8).u32(Nbd.EIO).u16(3).text("ba").array());
    }

    @Test
    public void errorChunkTooShortForItsFields() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR, COOKIE, 4).u32(Nbd.EIO).array());
        fatal(Bytes.chunkHeader(1, 0x8009, COOKIE, 5).u32(Nbd.EIO).u8(0).array());
    }

    @Test
    public void errorChunkWithErrorZero() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR, COOKIE, 6).u32(0).u16(0).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_ERROR_OFFSET, COOKIE, 14).u32(0).u16(0).u64(0).array());
    }

    @Test
    public void blockStatusChunkThatIsNotFourPlusEightN() throws IOException {
        expect(Request.of(Nbd.CMD_BLOCK_STATUS, 0, COOKIE, 0, 512));
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_BLOCK_STATUS, COOKIE, 4).u32(1).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_BLOCK_STATUS, COOKIE, 8).u32(1).u32(512).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_BLOCK_STATUS, COOKIE, 16).u32(1).u32(512).u32(0).u32(5).array());
        fatal(Bytes.chunkHeader(1, Nbd.REPLY_TYPE_BLOCK_STATUS, COOKIE, 0).array());
    }

    @Test
    public void oversizedChunkIsRefusedBeforeItsPayloadIsRead() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 512));
        // Only the header is there: the length alone must be enough to refuse it.
        fatal(Bytes.chunkHeader(0, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 1024 + 9).array(), 1024);
        fatal(Bytes.chunkHeader(0, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 0xffffffffL).array());
        fatal(Bytes.chunkHeader(0, Nbd.REPLY_TYPE_ERROR, COOKIE, 0xfffffff0L).array());
    }

    @Test
    public void chunkOfExactlyTheMaximumIsAccepted() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 1024));
        byte[] wire = Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 1024 + 8).u64(0).zeroes(1024).array();
        assertEquals(1032, ReplyCodec.read(Wire.input(wire), requests(), 1024).chunk().length());
    }

    @Test
    public void truncatedRepliesAreEofs() throws IOException {
        expect(Request.of(Nbd.CMD_READ, 0, COOKIE, 0, 16));
        byte[][] wholes = {Bytes.simpleReply(0, COOKIE).zeroes(16).array(),
                Bytes.chunkHeader(1, Nbd.REPLY_TYPE_OFFSET_DATA, COOKIE, 24).u64(0).zeroes(16).array()};
        for (byte[] whole : wholes) {
            for (int cut = 0; cut < whole.length; cut++) {
                try {
                    read(Arrays.copyOf(whole, cut));
                    fail("decoded a reply cut at " + cut);
                } catch (EOFException expected) {
                    // ok
                }
            }
        }
    }
}
