package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.Pipe;
import java.nio.channels.ReadableByteChannel;

import org.junit.Test;

public class WireIoTest {

    // WireInput

    @Test
    public void bigEndianFieldsWithTheirHighBits() throws IOException {
        WireInput in = Wire.input(Bytes.of().u8(0xfe).u16(0xfffe).u32(0xfffffffeL).u32(0x80000000L)
                .u64(0x8000000000000001L).array());
        assertEquals(0xfe, in.readUnsignedByte());
        assertEquals(0xfffe, in.readUnsignedShort());
        assertEquals(0xfffffffeL, in.readUnsignedInt());
        assertEquals(Integer.MIN_VALUE, in.readInt());
        assertEquals(0x8000000000000001L, in.readLong());
        assertFalse(in.hasMore());
    }

    @Test
    public void hasMoreWaitsForAByteAndReportsACleanEnd() throws IOException {
        assertFalse(Wire.input(new byte[0]).hasMore());
        WireInput in = Wire.input(new byte[] {7});
        assertTrue(in.hasMore());
        assertTrue(in.hasMore());
        assertEquals(7, in.readUnsignedByte());
        assertFalse(in.hasMore());
    }

    @Test
    public void aPayloadBiggerThanTheBufferIsReadWhole() throws IOException {
        byte[] payload = Bytes.pattern(1 << 20, 11);
        WireInput in = Wire.input(Bytes.of().u32(1).raw(payload).u32(2).array(), 64);
        assertEquals(1, in.readInt());
        // Part of the payload is already buffered; the rest comes straight from the channel.
        assertArrayEquals(payload, Wire.remaining(in.readBytes(payload.length)));
        assertEquals(2, in.readInt());
    }

    @Test
    public void aPayloadThroughATrickle() throws IOException {
        byte[] payload = Bytes.pattern(10000, 5);
        WireInput in = new WireInput(Wire.trickle(Bytes.of().u16(9).raw(payload).u64(3).array(), 7), 64);
        assertEquals(9, in.readUnsignedShort());
        ByteBuffer dst = ByteBuffer.allocate(payload.length);
        in.readFully(dst);
        assertArrayEquals(payload, dst.array());
        assertEquals(3, in.readLong());
    }

    @Test
    public void fieldsThatStraddleReads() throws IOException {
        WireInput in = new WireInput(Wire.trickle(Bytes.of().u64(0x0102030405060708L).u32(9).array(), 3), 64);
        assertEquals(0x0102030405060708L, in.readLong());
        assertEquals(9, in.readInt());
    }

    @Test
    public void smallPayloadFromTheBuffer() throws IOException {
        WireInput in = Wire.input(Bytes.of().text("hello").u8(1).array(), 64);
        assertEquals("hello", in.readString(5));
        assertEquals(1, in.readUnsignedByte());
    }

    @Test
    public void readStringIsUtf8() throws IOException {
        byte[] s = "d\u00e9mo".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals("d\u00e9mo", Wire.input(s).readString(s.length));
    }

    @Test
    public void skipMoreThanTheBuffer() throws IOException {
        WireInput in = Wire.input(Bytes.of().u8(1).zeroes(100000).u32(0xcafe).array(), 64);
        assertEquals(1, in.readUnsignedByte());
        in.skip(100000);
        assertEquals(0xcafe, in.readInt());
        in.skip(0);
        assertFalse(in.hasMore());
    }

    @Test
    public void skipThroughATrickle() throws IOException {
        WireInput in = new WireInput(Wire.trickle(Bytes.of().zeroes(1000).u32(5).array(), 13), 64);
        in.skip(1000);
        assertEquals(5, in.readInt());
    }

    @Test
    public void endOfStreamInsideAFieldOrPayloadOrSkip() throws IOException {
        expectEof(() -> Wire.input(new byte[3]).readInt());
        expectEof(() -> Wire.input(new byte[7]).readLong());
        expectEof(() -> Wire.input(new byte[1]).readUnsignedShort());
        expectEof(() -> Wire.input(new byte[0]).readUnsignedByte());
        expectEof(() -> Wire.input(new byte[100], 64).readBytes(101));
        expectEof(() -> Wire.input(new byte[100], 64).skip(101));
    }

    // WireOutput

    @Test
    public void fieldsAreBufferedUntilFlushed() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        WireOutput out = new WireOutput(Channels.newChannel(bytes), 64);
        out.writeShort(0xfffe).writeInt(-2).writeLong(0x0102030405060708L).writeString("ab").writeZeroes(3);
        assertEquals(2 + 4 + 8 + 2 + 3, out.pending());
        assertEquals(0, bytes.size());
        out.flush();
        assertEquals(0, out.pending());
        assertArrayEquals(Bytes.of().u16(0xfffe).u32(0xfffffffeL).u64(0x0102030405060708L).text("ab").zeroes(3)
                .array(), bytes.toByteArray());
    }

    @Test
    public void morethanTheBufferOfSmallFieldsFlushesOnItsOwn() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        WireOutput out = new WireOutput(Channels.newChannel(bytes), 64);
        Bytes expected = Bytes.of();
        for (int i = 0; i < 1000; i++) {
            out.writeInt(i);
            expected.u32(i);
        }
        out.writeZeroes(300);
        expected.zeroes(300);
        out.flush();
        assertArrayEquals(expected.array(), bytes.toByteArray());
    }

    @Test
    public void aLargePayloadThroughAPlainChannelFollowsItsHeader() throws IOException {
        byte[] payload = Bytes.pattern(200000, 1);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        WireOutput out = new WireOutput(Channels.newChannel(bytes), 64);
        ByteBuffer src = ByteBuffer.wrap(payload);
        out.writeInt(0x11).write(src).writeInt(0x22).flush();
        assertArrayEquals(Bytes.of().u32(0x11).raw(payload).u32(0x22).array(), bytes.toByteArray());
        assertEquals(0, src.position());
    }

    @Test
    public void aLargePayloadGoesOutInGatheringWritesWithItsHeader() throws IOException {
        byte[] payload = Bytes.pattern(100000, 2);
        RecordingGatheringChannel channel = new RecordingGatheringChannel(1000);
        WireOutput out = new WireOutput(channel, 64);
        ByteBuffer src = ByteBuffer.wrap(payload);
        out.writeLong(0x33).write(src).writeInt(0x44).flush();
        assertArrayEquals(Bytes.of().u64(0x33).raw(payload).u32(0x44).array(), channel.bytes.toByteArray());
        assertTrue("gathering writes used", channel.gatheringWrites > 0);
        assertEquals(0, src.position());
    }

    @Test
    public void aPayloadThatFitsIsBuffered() throws IOException {
        RecordingGatheringChannel channel = new RecordingGatheringChannel(1000);
        WireOutput out = new WireOutput(channel, 64);
        out.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertEquals(3, out.pending());
        assertEquals(0, channel.bytes.size());
        out.flush();
        assertArrayEquals(new byte[] {1, 2, 3}, channel.bytes.toByteArray());
    }

    @Test(timeout = 20_000)
    public void throughARealPipe() throws Exception {
        Pipe pipe = Pipe.open();
        byte[] payload = Bytes.pattern(3 << 20, 4);
        Thread writer = new Thread(() -> {
            try {
                WireOutput out = new WireOutput(pipe.sink(), 4096);
                out.writeInt(payload.length).write(ByteBuffer.wrap(payload)).writeLong(-1).flush();
                pipe.sink().close();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        writer.start();
        WireInput in = new WireInput(pipe.source(), 4096);
        int n = in.readInt();
        assertArrayEquals(payload, Wire.remaining(in.readBytes(n)));
        assertEquals(-1, in.readLong());
        assertFalse(in.hasMore());
        writer.join(10000);
        pipe.source().close();
    }

    @Test
    public void noReadAsksForMoreThanOneTransferAtATime() throws IOException {
        byte[] payload = Bytes.pattern(3 << 20, 5);
        CountingChannel channel = new CountingChannel(Wire.trickle(payload, Integer.MAX_VALUE));
        WireInput in = new WireInput(channel, 4096);
        assertArrayEquals(payload, Wire.remaining(in.readBytes(payload.length)));
        assertTrue("largest read " + channel.largest, channel.largest <= Transfers.MAX_TRANSFER);
    }

    @Test
    public void noWriteOffersMoreThanTheBufferAndOneTransfer() throws IOException {
        byte[] payload = Bytes.pattern(3 << 20, 6);
        RecordingGatheringChannel channel = new RecordingGatheringChannel(Integer.MAX_VALUE);
        WireOutput out = new WireOutput(channel, 4096);
        out.writeInt(7).write(ByteBuffer.wrap(payload)).flush();
        assertArrayEquals(Bytes.of().u32(7).raw(payload).array(), channel.bytes.toByteArray());
        assertTrue("largest write " + channel.largest, channel.largest <= 4096 + Transfers.MAX_TRANSFER);
    }

    @Test
    public void smallPayloadsSplitAcrossReadsCostNoExtraRead() throws IOException {
        Bytes stream = Bytes.of();
        for (int i = 0; i < 50; i++) {
            stream.u64(i).raw(Bytes.pattern(4096, i));
        }
        byte[] wire = stream.array();
        int step = 10_000; // never a message boundary: every read ends inside a payload
        CountingChannel channel = new CountingChannel(Wire.trickle(wire, step));
        WireInput in = new WireInput(channel, 64 * 1024);
        for (int i = 0; i < 50; i++) {
            assertEquals(i, in.readLong());
            assertArrayEquals(Bytes.pattern(4096, i), Wire.remaining(in.readBytes(4096)));
        }
        assertFalse(in.hasMore());
        int needed = (wire.length + step - 1) / step + 1; // and one to see the end
        assertEquals(needed, channel.reads);
    }

    /** Counts the reads made through it, and the most room any of them offered. */
    private static final class CountingChannel implements ReadableByteChannel {
        final ReadableByteChannel inner;
        int reads;
        int largest;

        CountingChannel(ReadableByteChannel inner) {
            this.inner = inner;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            reads++;
            largest = Math.max(largest, dst.remaining());
            return inner.read(dst);
        }

        @Override
        public boolean isOpen() {
            return inner.isOpen();
        }

        @Override
        public void close() throws IOException {
            inner.close();
        }
    }

    /** Accepts at most {@code step} bytes per call, recording what it got. */
    private static final class RecordingGatheringChannel implements GatheringByteChannel {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final int step;
        int gatheringWrites;
        long largest;

        RecordingGatheringChannel(int step) {
            this.step = step;
        }

        @Override
        public int write(ByteBuffer src) {
            largest = Math.max(largest, src.remaining());
            int n = Math.min(step, src.remaining());
            for (int i = 0; i < n; i++) {
                bytes.write(src.get());
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            gatheringWrites++;
            long offered = 0;
            for (int i = offset; i < offset + length; i++) {
                offered += srcs[i].remaining();
            }
            largest = Math.max(largest, offered);
            long total = 0;
            for (int i = offset; i < offset + length && total < step; i++) {
                int n = Math.min(step - (int) total, srcs[i].remaining());
                for (int k = 0; k < n; k++) {
                    bytes.write(srcs[i].get());
                }
                total += n;
            }
            return total;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    private interface Io {
        void run() throws IOException;
    }

    private static void expectEof(Io io) throws IOException {
        try {
            io.run();
            fail("no EOF");
        } catch (EOFException expected) {
            // ok
        }
    }
}
