package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

import org.junit.Test;

public class RequestCodecTest {
    private static final long COOKIE = 0x0102030405060708L;

    private static byte[] encode(Request r) throws IOException {
        return Wire.encode(out -> RequestCodec.write(out, r));
    }

    private static Request decode(byte[] bytes) throws IOException {
        return RequestCodec.read(Wire.input(bytes), Nbd.MAX_PAYLOAD);
    }

    private static void assertSame(Request expected, Request actual) {
        assertEquals(expected.type(), actual.type());
        assertEquals(expected.flags(), actual.flags());
        assertEquals(expected.cookie(), actual.cookie());
        assertEquals(expected.offset(), actual.offset());
        assertEquals(expected.length(), actual.length());
        assertArrayEquals(Wire.remaining(expected.payload()), Wire.remaining(actual.payload()));
    }

    // Every command, both ways.

    @Test
    public void everyCommandWithoutPayloadIsTwentyEightBytesAsTheSpecLaysThemOut() throws IOException {
        int[] commands = {Nbd.CMD_READ, Nbd.CMD_DISC, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_CACHE,
                Nbd.CMD_WRITE_ZEROES, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_RESIZE};
        for (int type : commands) {
            long length = type == Nbd.CMD_READ ? 0x10000 : 0x9abcdef0L;
            Request r = Request.of(type, 0, COOKIE + type, 0x1122334455667788L, length);
            byte[] wire = encode(r);
            assertEquals(Nbd.commandName(type), Nbd.REQUEST_HEADER_LENGTH, wire.length);
            assertArrayEquals(Nbd.commandName(type),
                    Bytes.request(0, type, COOKIE + type, 0x1122334455667788L, length).array(), wire);
            assertSame(r, decode(wire));
        }
    }

    @Test
    public void readRequestBytes() throws IOException {
        byte[] expected = {0x25, 0x60, (byte) 0x95, 0x13, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0x10,
                0, 0, 0, 0x10, 0};
        assertArrayEquals(expected, encode(Request.of(Nbd.CMD_READ, 0, COOKIE, 4096, 4096)));
    }

    @Test
    public void writeCarriesItsPayloadAfterTheHeader() throws IOException {
        byte[] data = Bytes.pattern(1000, 7);
        Request r = Request.write(Nbd.CMD_FLAG_FUA, COOKIE, 512, ByteBuffer.wrap(data));
        byte[] wire = encode(r);
        assertArrayEquals(Bytes.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, COOKIE, 512, 1000).raw(data).array(), wire);
        Request back = decode(wire);
        assertSame(r, back);
        assertEquals(1000, back.payloadLength());
    }

    @Test
    public void writeBiggerThanTheOutputBufferGoesOutWhole() throws IOException {
        byte[] data = Bytes.pattern(3 * 1024 * 1024 + 17, 3);
        Request r = Request.write(0, COOKIE, 0, ByteBuffer.wrap(data));
        byte[] wire = encode(r);
        assertEquals(28 + data.length, wire.length);
        Request back = RequestCodec.read(Wire.input(wire, 64), Nbd.MAX_PAYLOAD);
        assertSame(r, back);
    }

    @Test
    public void emptyWrite() throws IOException {
        Request r = Request.write(0, COOKIE, 0, ByteBuffer.allocate(0));
        byte[] wire = encode(r);
        assertEquals(28, wire.length);
        assertSame(r, decode(wire));
    }

    @Test
    public void everyKnownFlagSurvivesTheRoundTrip() throws IOException {
        int[] flags = {Nbd.CMD_FLAG_FUA, Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_FLAG_DF, Nbd.CMD_FLAG_REQ_ONE,
                Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO};
        for (int f : flags) {
            Request r = Request.of(Nbd.CMD_WRITE_ZEROES, f, COOKIE, 0, 65536);
            byte[] wire = encode(r);
            assertEquals(f, ((wire[4] & 0xff) << 8) | (wire[5] & 0xff));
            assertSame(r, decode(wire));
        }
    }

    @Test
    public void unsignedFieldsKeepTheirHighBits() throws IOException {
        Request r = Request.of(Nbd.CMD_TRIM, 0, -1L, Long.MIN_VALUE | 5, 0xffffffffL);
        byte[] wire = encode(r);
        assertArrayEquals(Bytes.request(0, Nbd.CMD_TRIM, -1L, Long.MIN_VALUE | 5, 0xffffffffL).array(), wire);
        Request back = decode(wire);
        assertEquals(0xffffffffL, back.length());
        assertEquals(Long.MIN_VALUE | 5, back.offset());
        assertEquals(-1L, back.cookie());
    }

    @Test
    public void severalRequestsBackToBackThroughATrickle() throws IOException {
        byte[] data = Bytes.pattern(300, 1);
        Bytes stream = Bytes.of().raw(Bytes.request(0, Nbd.CMD_READ, 1, 0, 512))
                .raw(Bytes.request(0, Nbd.CMD_WRITE, 2, 512, 300)).raw(data)
                .raw(Bytes.request(0, Nbd.CMD_FLUSH, 3, 0, 0)).raw(Bytes.request(0, Nbd.CMD_DISC, 4, 0, 0));
        WireInput in = new WireInput(Wire.trickle(stream.array(), 3), 64);
        assertEquals(Nbd.CMD_READ, RequestCodec.read(in, Nbd.MAX_PAYLOAD).type());
        Request w = RequestCodec.read(in, Nbd.MAX_PAYLOAD);
        assertEquals(2, w.cookie());
        assertArrayEquals(data, Wire.remaining(w.payload()));
        assertEquals(Nbd.CMD_FLUSH, RequestCodec.read(in, Nbd.MAX_PAYLOAD).type());
        assertEquals(Nbd.CMD_DISC, RequestCodec.read(in, Nbd.MAX_PAYLOAD).type());
        assertNull(RequestCodec.read(in, Nbd.MAX_PAYLOAD));
    }

    // Truncation.

    @Test
    public void cleanCloseBetweenRequestsIsNull() throws IOException {
        assertNull(decode(new byte[0]));
    }

    @Test
    public void truncatedAtEveryBytePositionOfTheHeaderIsAnEofNeverAHang() throws IOException {
        byte[] whole = Bytes.request(0, Nbd.CMD_READ, COOKIE, 0, 512).array();
        for (int cut = 1; cut < whole.length; cut++) {
            byte[] part = Arrays.copyOf(whole, cut);
            try {
                decode(part);
                fail("decoded a request cut at " + cut);
            } catch (EOFException expected) {
                // the connection went away mid-header
            } catch (NbdException e) {
                assertTrue("cut at " + cut, e.isFatal());
            }
        }
    }

    @Test
    public void truncatedWritePayloadIsAnEof() throws IOException {
        byte[] whole = Bytes.request(0, Nbd.CMD_WRITE, COOKIE, 0, 100).raw(Bytes.pattern(100, 0)).array();
        for (int cut = 28; cut < whole.length; cut += 9) {
            try {
                decode(Arrays.copyOf(whole, cut));
                fail("decoded a WRITE cut at " + cut);
            } catch (EOFException expected) {
                // ok
            }
        }
    }

    @Test
    public void truncatedWhileSkippingAnOversizedWriteIsAnEof() throws IOException {
        byte[] wire = Bytes.request(0, Nbd.CMD_WRITE, COOKIE, 0, 5000).zeroes(100).array();
        try {
            RequestCodec.read(Wire.input(wire), 1024);
            fail();
        } catch (EOFException expected) {
            // ok
        }
    }

    // Malformed requests.

    @Test
    public void badMagicIsFatal() throws IOException {
        byte[] wire = Bytes.request(0, Nbd.CMD_READ, COOKIE, 0, 512).array();
        wire[3] ^= 1;
        NbdException e = expectNbd(wire, Nbd.MAX_PAYLOAD);
        assertTrue(e.isFatal());
    }

    @Test
    public void replyMagicInPlaceOfARequestIsFatal() throws IOException {
        byte[] wire = Bytes.simpleReply(0, COOKIE).zeroes(12).array();
        assertTrue(expectNbd(wire, Nbd.MAX_PAYLOAD).isFatal());
    }

    @Test
    public void unknownCommandIsAnsweredWithEinvalAndTheStreamStaysInStep() throws IOException {
        for (int type : new int[] {9, 10, 0x100, 0xffff}) {
            Bytes stream = Bytes.request(0, type, COOKIE, 0, 512).raw(Bytes.request(0, Nbd.CMD_FLUSH, 99, 0, 0));
            WireInput in = Wire.input(stream);
            NbdException e = expectNbd(in, Nbd.MAX_PAYLOAD);
            assertFalse(e.isFatal());
            assertEquals(Nbd.EINVAL, e.error());
            assertEquals(COOKIE, e.cookie());
            Request next = RequestCodec.read(in, Nbd.MAX_PAYLOAD);
            assertEquals(Nbd.CMD_FLUSH, next.type());
            assertEquals(99, next.cookie());
        }
    }

    @Test
    public void unknownFlagsAreAnsweredWithEinvalAndTheNextRequestDecodes() throws IOException {
        for (int flag : new int[] {Nbd.CMD_FLAG_PAYLOAD_LEN, 1 << 6, 1 << 9, 0x8000}) {
            Bytes stream = Bytes.request(flag, Nbd.CMD_READ, COOKIE, 0, 512)
                    .raw(Bytes.request(0, Nbd.CMD_READ, 77, 1024, 512));
            WireInput in = Wire.input(stream);
            NbdException e = expectNbd(in, Nbd.MAX_PAYLOAD);
            assertFalse(e.isFatal());
            assertEquals(Nbd.EINVAL, e.error());
            assertEquals(COOKIE, e.cookie());
            Request next = RequestCodec.read(in, Nbd.MAX_PAYLOAD);
            assertEquals(77, next.cookie());
            assertEquals(1024, next.offset());
        }
    }

    @Test
    public void writeWithUnknownFlagsHasItsPayloadConsumed() throws IOException {
        byte[] bad = Bytes.pattern(700, 9);
        byte[] good = Bytes.pattern(50, 4);
        Bytes stream = Bytes.request(1 << 7, Nbd.CMD_WRITE, COOKIE, 0, bad.length).raw(bad)
                .raw(Bytes.request(0, Nbd.CMD_WRITE, 5, 4096, good.length)).raw(good);
        WireInput in = Wire.input(stream.array(), 64);
        NbdException e = expectNbd(in, Nbd.MAX_PAYLOAD);
        assertFalse(e.isFatal());
        assertEquals(Nbd.EINVAL, e.error());
        assertEquals(COOKIE, e.cookie());
        Request next = RequestCodec.read(in, Nbd.MAX_PAYLOAD);
        assertEquals(5, next.cookie());
        assertArrayEquals(good, Wire.remaining(next.payload()));
        assertNull(RequestCodec.read(in, Nbd.MAX_PAYLOAD));
    }

    @Test
    public void aWriteHeaderLeavesItsPayloadUnreadUntilAskedFor() throws IOException {
        byte[] data = Bytes.pattern(3000, 7);
        Bytes stream = Bytes.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, COOKIE, 8192, data.length).raw(data)
                .raw(Bytes.request(0, Nbd.CMD_FLUSH, 9, 0, 0));
        WireInput in = Wire.input(stream.array(), 64);
        Request header = RequestCodec.readHeader(in, Nbd.MAX_PAYLOAD);
        assertEquals(Nbd.CMD_WRITE, header.type());
        assertEquals(data.length, header.length());
        assertEquals(0, header.payloadLength());
        Request whole = RequestCodec.readPayload(in, header);
        assertEquals(Nbd.CMD_FLAG_FUA, whole.flags());
        assertEquals(8192, whole.offset());
        assertArrayEquals(data, Wire.remaining(whole.payload()));
        assertEquals(Nbd.CMD_FLUSH, RequestCodec.readHeader(in, Nbd.MAX_PAYLOAD).type());
    }

    @Test
    public void aRefusedWriteHeaderHasSkippedItsPayload() throws IOException {
        Bytes stream = Bytes.request(1 << 7, Nbd.CMD_WRITE, COOKIE, 0, 700).raw(Bytes.pattern(700, 9))
                .raw(Bytes.request(0, Nbd.CMD_READ, 5, 0, 512));
        WireInput in = Wire.input(stream.array(), 64);
        try {
            RequestCodec.readHeader(in, Nbd.MAX_PAYLOAD);
            fail();
        } catch (NbdException e) {
            assertEquals(Nbd.EINVAL, e.error());
        }
        Request next = RequestCodec.readHeader(in, Nbd.MAX_PAYLOAD);
        assertEquals(Nbd.CMD_READ, next.type());
        assertEquals(5, next.cookie());
    }

    @Test
    public void writeOverTheMaximumIsSkippedAndAnsweredWithEoverflow() throws IOException {
        int max = 1000;
        Bytes stream = Bytes.request(0, Nbd.CMD_WRITE, COOKIE, 0, 5000).raw(Bytes.pattern(5000, 1))
                .raw(Bytes.request(0, Nbd.CMD_WRITE, 6, 0, max)).raw(Bytes.pattern(max, 2));
        WireInput in = Wire.input(stream.array(), 64);
        NbdException e = expectNbd(in, max);
        assertFalse(e.isFatal());
        assertEquals(Nbd.EOVERFLOW, e.error());
        assertEquals(COOKIE, e.cookie());
        Request next = RequestCodec.read(in, max);
        assertEquals(6, next.cookie());
        assertArrayEquals(Bytes.pattern(max, 2), Wire.remaining(next.payload()));
    }

    @Test
    public void writeOfFourGibibytesMinusOneIsNotAllocated() throws IOException {
        // The header claims 2^32-1 bytes; skipping starts, then the stream ends: an EOF, not an OutOfMemoryError.
        byte[] wire = Bytes.request(0, Nbd.CMD_WRITE, COOKIE, 0, 0xffffffffL).zeroes(10).array();
        try {
            decode(wire);
            fail();
        } catch (EOFException expected) {
            // ok
        }
    }

    @Test
    public void readOverTheMaximumIsAnsweredWithEoverflow() throws IOException {
        Bytes stream = Bytes.request(0, Nbd.CMD_READ, COOKIE, 0, Nbd.MAX_PAYLOAD + 1L)
                .raw(Bytes.request(0, Nbd.CMD_READ, 8, 0, Nbd.MAX_PAYLOAD));
        WireInput in = Wire.input(stream);
        NbdException e = expectNbd(in, Nbd.MAX_PAYLOAD);
        assertFalse(e.isFatal());
        assertEquals(Nbd.EOVERFLOW, e.error());
        assertEquals(COOKIE, e.cookie());
        assertEquals(Nbd.MAX_PAYLOAD, RequestCodec.read(in, Nbd.MAX_PAYLOAD).length());
    }

    @Test
    public void longTrimAndZeroAndBlockStatusAreNotPayloads() throws IOException {
        for (int type : new int[] {Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_CACHE}) {
            Request r = decode(Bytes.request(0, type, COOKIE, 0, 0xffffffffL).array());
            assertEquals(0xffffffffL, r.length());
            assertEquals(0, r.payloadLength());
        }
    }

    private static NbdException expectNbd(byte[] wire, int max) throws IOException {
        return expectNbd(Wire.input(wire), max);
    }

    private static NbdException expectNbd(WireInput in, int max) throws IOException {
        try {
            Request r = RequestCodec.read(in, max);
            fail("decoded " + r);
            return null;
        } catch (NbdException e) {
            return e;
        }
    }
}
