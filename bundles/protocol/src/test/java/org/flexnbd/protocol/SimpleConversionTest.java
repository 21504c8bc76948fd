package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertSame;

import java.nio.ByteBuffer;
import java.util.List;

import org.junit.Test;

public class SimpleConversionTest {
    private static final long COOKIE = 42;
    private static final long OFFSET = 1 << 20;

    private static final Request READ_30 = Request.of(Nbd.CMD_READ, 0, COOKIE, OFFSET, 30);

    private static ByteBuffer fill(int n, int value) {
        return Bytes.of().fill(n, value).buffer();
    }

    private static Reply structured(Chunk... chunks) {
        return Reply.structured(COOKIE, List.of(chunks));
    }

    @Test
    public void aSimpleReplyPassesThroughUntouched() {
        Reply simple = Reply.simple(COOKIE, 0, ByteBuffer.allocate(30));
        assertSame(simple, SimpleConversion.toSimple(READ_30, simple));
    }

    @Test
    public void dataAndHoleChunksAreAssembledInAnyOrder() {
        Reply reply = structured(Chunks.offsetData(COOKIE, 0, OFFSET + 20, fill(10, 'b')),
                Chunks.offsetHole(COOKIE, 0, OFFSET + 10, 10), Chunks.offsetData(COOKIE, 0, OFFSET, fill(10, 'a')),
                Chunks.none(COOKIE));
        Reply simple = SimpleConversion.toSimple(READ_30, reply);
        assertFalse(simple.isStructured());
        assertEquals(0, simple.error());
        assertEquals(COOKIE, simple.cookie());
        byte[] expected = Bytes.of().fill(10, 'a').zeroes(10).fill(10, 'b').array();
        assertArrayEquals(expected, Wire.remaining(simple.data()));
    }

    @Test
    public void oneDataChunkMarkedDone() {
        Reply reply = structured(Chunks.offsetData(COOKIE, Nbd.REPLY_FLAG_DONE, OFFSET, fill(30, 7)));
        assertArrayEquals(Bytes.of().fill(30, 7).array(),
                Wire.remaining(SimpleConversion.toSimple(READ_30, reply).data()));
    }

    @Test
    public void aReadThatIsAllHole() {
        Reply reply = structured(Chunks.offsetHole(COOKIE, Nbd.REPLY_FLAG_DONE, OFFSET, 30));
        Reply simple = SimpleConversion.toSimple(READ_30, reply);
        assertEquals(0, simple.error());
        assertArrayEquals(new byte[30], Wire.remaining(simple.data()));
    }

    @Test
    public void theErrorChunkWinsAndNoDataIsSent() {
        Reply reply = structured(Chunks.offsetData(COOKIE, 0, OFFSET, fill(30, 1)),
                Chunks.error(COOKIE, Nbd.REPLY_FLAG_DONE, Nbd.ENOSPC, "full"));
        Reply simple = SimpleConversion.toSimple(READ_30, reply);
        assertEquals(Nbd.ENOSPC, simple.error());
        assertEquals(0, simple.data().remaining());
    }

    @Test
    public void theFirstOfSeveralErrorsWins() {
        Reply reply = structured(Chunks.error(COOKIE, 0, Nbd.EPERM, ""), Chunks.error(COOKIE, 1, Nbd.EIO, ""));
        assertEquals(Nbd.EPERM, SimpleConversion.toSimple(READ_30, reply).error());
    }

    @Test
    public void dataBeforeTheRequestIsEio() {
        Reply reply = structured(Chunks.offsetData(COOKIE, 1, OFFSET - 1, fill(30, 1)));
        Reply simple = SimpleConversion.toSimple(READ_30, reply);
        assertEquals(Nbd.EIO, simple.error());
        assertEquals(0, simple.data().remaining());
    }

    @Test
    public void dataBeyondTheRequestIsEio() {
        Reply reply = structured(Chunks.offsetData(COOKIE, 0, OFFSET, fill(20, 1)),
                Chunks.offsetData(COOKIE, 1, OFFSET + 20, fill(11, 1)));
        assertEquals(Nbd.EIO, SimpleConversion.toSimple(READ_30, reply).error());
    }

    @Test
    public void aHoleOutsideTheRequestIsEio() {
        Reply reply = structured(Chunks.offsetData(COOKIE, 0, OFFSET, fill(20, 1)),
                Chunks.offsetHole(COOKIE, 1, OFFSET + 20, 20));
        assertEquals(Nbd.EIO, SimpleConversion.toSimple(READ_30, reply).error());
        reply = structured(Chunks.offsetHole(COOKIE, 0, OFFSET - 10, 10), Chunks.offsetData(COOKIE, 1, OFFSET,
                fill(30, 1)));
        assertEquals(Nbd.EIO, SimpleConversion.toSimple(READ_30, reply).error());
    }

    @Test
    public void aSuccessfulReadThatLeavesAGapIsEioNotZeroes() {
        // The spec: with no error, the chunks cover the whole request. A gap is data the server never sent.
        Reply reply = structured(Chunks.offsetData(COOKIE, 0, OFFSET, fill(10, 1)),
                Chunks.offsetData(COOKIE, 1, OFFSET + 20, fill(10, 1)));
        assertEquals(Nbd.EIO, SimpleConversion.toSimple(READ_30, reply).error());
        assertEquals(Nbd.EIO, SimpleConversion.toSimple(READ_30, structured(Chunks.none(COOKIE))).error());
    }

    @Test
    public void overlappingChunksAreEio() {
        Reply reply = structured(Chunks.offsetData(COOKIE, 0, OFFSET, fill(20, 1)),
                Chunks.offsetHole(COOKIE, 0, OFFSET + 10, 10), Chunks.offsetData(COOKIE, 1, OFFSET + 20,
                        fill(10, 1)));
        assertEquals(Nbd.EIO, SimpleConversion.toSimple(READ_30, reply).error());
    }

    @Test
    public void aStructuredReplyToAnotherCommandBecomesAnEmptySimpleReply() {
        Request flush = Request.of(Nbd.CMD_FLUSH, 0, COOKIE, 0, 0);
        Reply simple = SimpleConversion.toSimple(flush, structured(Chunks.none(COOKIE)));
        assertFalse(simple.isStructured());
        assertEquals(0, simple.error());
        assertEquals(0, simple.data().remaining());
        Request write = Request.write(0, COOKIE, 0, ByteBuffer.allocate(5));
        assertEquals(Nbd.EPERM,
                SimpleConversion.toSimple(write, structured(Chunks.error(COOKIE, 1, Nbd.EPERM, "ro"))).error());
    }

    @Test
    public void anEmptyReadNeedsNoChunks() {
        Request read0 = Request.of(Nbd.CMD_READ, 0, COOKIE, OFFSET, 0);
        Reply simple = SimpleConversion.toSimple(read0, structured(Chunks.none(COOKIE)));
        assertEquals(0, simple.error());
        assertEquals(0, simple.data().remaining());
    }
}
