package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.lang.management.ManagementFactory;
import java.nio.channels.Channels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.Test;

/**
 * Payloads read into pooled memory: where they land, who holds them, and that nothing is held once every holder
 * has let go, including when the input breaks off or is malformed half-way.
 */
public class PooledPayloadTest {
    /**
     * Its own pool, so that its counters see only this test's buffers, without per-thread caches, which would keep
     * a released buffer counted as in use.
     */
    private final PooledByteBufAllocator pool = new PooledByteBufAllocator(true, 0, 1, 8192, 9, 0, 0, false);

    private WireInput pooledInput(byte[] bytes, int step) {
        return new WireInput(Wire.trickle(bytes, step), 4096, () -> { }, pool);
    }

    /** Buffers taken from the pool and not given back. */
    private long usedDirectMemory() {
        return pool.metric().directArenas().stream().mapToLong(a -> a.numActiveAllocations()).sum();
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    @Test
    public void aWritePayloadLandsInPooledDirectMemoryHeldOnceByTheReader() throws IOException {
        byte[] data = random(100_000);
        byte[] wire = Wire.encode(out -> RequestCodec.write(out, Request.write(0, 7, 4096, ByteBuffer.wrap(data))));
        Request r = RequestCodec.read(pooledInput(wire, 1500), Nbd.MAX_PAYLOAD);

        assertTrue(r.payload().isDirect());
        assertNotNull(r.owner());
        assertEquals(1, r.owner().refCnt());
        assertArrayEquals(data, Wire.remaining(r.payload()));
        assertTrue(usedDirectMemory() > 0);

        r.retain(); // a second holder, such as a write under way
        r.release();
        assertEquals(1, r.owner().refCnt());
        r.release();
        assertEquals(0, r.owner().refCnt());
    }

    @Test
    public void smallPayloadsStayOnTheHeapWithNothingToRelease() throws IOException {
        byte[] data = random(WireInput.POOLED_FROM - 1);
        byte[] wire = Wire.encode(out -> RequestCodec.write(out, Request.write(0, 7, 0, ByteBuffer.wrap(data))));
        Request r = RequestCodec.read(pooledInput(wire, 64), Nbd.MAX_PAYLOAD);

        assertFalse(r.payload().isDirect());
        assertNull(r.owner());
        r.retain().release(); // no-ops, not failures
        assertArrayEquals(data, Wire.remaining(r.payload()));
    }

    @Test
    public void withoutAPoolPayloadsAreHeapBuffersAsBefore() throws IOException {
        byte[] data = random(50_000);
        byte[] wire = Wire.encode(out -> RequestCodec.write(out, Request.write(0, 7, 0, ByteBuffer.wrap(data))));
        Request r = RequestCodec.read(Wire.input(wire, 4096), Nbd.MAX_PAYLOAD);
        assertFalse(r.payload().isDirect());
        assertNull(r.owner());
    }

    @Test
    public void aPayloadCutShortGivesItsMemoryBack() throws IOException {
        byte[] data = random(64 * 1024);
        byte[] wire = Wire.encode(out -> RequestCodec.write(out, Request.write(0, 7, 0, ByteBuffer.wrap(data))));
        byte[] cut = java.util.Arrays.copyOf(wire, wire.length - 1000);
        WireInput in = pooledInput(cut, 4000);
        Request header = RequestCodec.readHeader(in, Nbd.MAX_PAYLOAD);
        try {
            RequestCodec.readPayload(in, header);
            fail("a truncated payload must not be returned");
        } catch (EOFException expected) {
            // the memory taken for it must be back in the pool
        }
        assertEquals(0, usedDirectMemory());
    }

    @Test
    public void aSimpleReadReplyHoldsItsDataUntilReleased() throws IOException {
        byte[] data = random(200_000);
        Request read = Request.of(Nbd.CMD_READ, 0, 9, 0, data.length);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeSimple(out, 9, 0, ByteBuffer.wrap(data)));
        Reply reply = ReplyCodec.read(pooledInput(wire, 8192), c -> c == 9 ? read : null, Nbd.MAX_PAYLOAD).simple();

        assertTrue(reply.data().isDirect());
        assertArrayEquals(data, Wire.remaining(reply.data()));
        assertTrue(usedDirectMemory() > 0);
        reply.release();
        assertEquals(0, usedDirectMemory());
    }

    @Test
    public void aStructuredReplyReleasesEveryChunk() throws IOException {
        byte[] first = random(70_000);
        byte[] second = random(90_000);
        Request read = Request.of(Nbd.CMD_READ, 0, 5, 1000, first.length + second.length);
        byte[] wire = Wire.encode(out -> {
            ReplyCodec.writeChunk(out, Chunks.offsetData(5, 0, 1000, ByteBuffer.wrap(first)));
            ReplyCodec.writeChunk(out, Chunks.offsetData(5, Nbd.REPLY_FLAG_DONE, 1000 + first.length,
                    ByteBuffer.wrap(second)));
        });
        WireInput in = pooledInput(wire, 16_000);
        Chunk a = ReplyCodec.read(in, c -> read, Nbd.MAX_PAYLOAD).chunk();
        Chunk b = ReplyCodec.read(in, c -> read, Nbd.MAX_PAYLOAD).chunk();
        Reply reply = Reply.structured(5, List.of(a, b));

        Reply simple = SimpleConversion.toSimple(read, reply); // assembled on the heap, from the pooled chunks
        ByteBuffer expected = ByteBuffer.allocate(first.length + second.length).put(first).put(second).flip();
        assertEquals(expected, simple.data());

        reply.release();
        assertEquals(0, a.owner().refCnt());
        assertEquals(0, b.owner().refCnt());
        assertEquals(0, usedDirectMemory());
    }

    @Test
    public void aMalformedChunkIsRefusedWithoutKeepingItsMemory() throws IOException {
        // BLOCK_STATUS payloads are 4 + 8n bytes: 4 + 8n + 3 is malformed, and large enough to be pooled.
        ByteBuffer bad = ByteBuffer.allocate(4 + 8 * 200 + 3);
        Request status = Request.of(Nbd.CMD_BLOCK_STATUS, 0, 3, 0, 4096);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeChunk(out,
                new Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, 3, bad)));
        try {
            ReplyCodec.read(pooledInput(wire, 512), c -> status, Nbd.MAX_PAYLOAD);
            fail("a BLOCK_STATUS chunk that is not 4 + 8n bytes is malformed");
        } catch (NbdException expected) {
            assertTrue(expected.isFatal());
        }
        assertEquals(0, usedDirectMemory());
    }

    /** The pool, counting the bytes asked of it. */
    private final class Counting extends AbstractByteBufAllocator {
        long asked;

        Counting() {
            super(true);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            throw new AssertionError("payloads are direct");
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            asked += initialCapacity;
            return pool.directBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return true;
        }
    }

    private static final int ANNOUNCED = 32 << 20;

    @Test
    public void aHeaderAndOneByteTakeNoMoreThanTheFirstPieceOfPooledMemory() throws IOException {
        Counting counting = new Counting();
        WireInput in = new WireInput(Channels.newChannel(new ByteArrayInputStream(new byte[1])), 4096, () -> { },
                counting);
        try {
            RequestCodec.readPayload(in, Request.of(Nbd.CMD_WRITE, 0, 1, 0, ANNOUNCED));
            fail("one byte of 32 MiB");
        } catch (EOFException expected) {
            // the client went away with the rest
        }
        assertEquals(WireInput.FIRST_PIECE, counting.asked);
        assertEquals(0, usedDirectMemory());
    }

    @Test
    public void aReplyToTheProxysOwnReadTakesItsMemoryInOnePiece() throws IOException {
        // The proxy chose and budgeted the length: growing as the data arrives would only copy it again.
        byte[] data = random(3 << 20);
        Request read = Request.of(Nbd.CMD_READ, 0, 4, 0, data.length);
        byte[] wire = Wire.encode(out -> ReplyCodec.writeSimple(out, 4, 0, ByteBuffer.wrap(data)));
        Counting counting = new Counting();
        WireInput in = new WireInput(Channels.newChannel(new ByteArrayInputStream(wire)), 4096, () -> { }, counting);
        Reply reply = ReplyCodec.read(in, c -> read, Nbd.MAX_PAYLOAD).simple();
        assertEquals(data.length, counting.asked);
        assertEquals(ByteBuffer.wrap(data), reply.data());
        reply.release();
        assertEquals(0, usedDirectMemory());
    }

    @Test
    public void aHeaderAndOneByteTakeNoMoreThanTheFirstPieceOfHeap() throws IOException {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        WireInput in = Wire.input(new byte[1], 4096);
        long before = threads.getCurrentThreadAllocatedBytes();
        try {
            RequestCodec.readPayload(in, Request.of(Nbd.CMD_WRITE, 0, 1, 0, ANNOUNCED));
            fail("one byte of 32 MiB");
        } catch (EOFException expected) {
            // as above
        }
        long taken = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue("allocated " + taken, taken < WireInput.FIRST_PIECE + (512 << 10));
    }

    @Test
    public void everyByteArrivesInOrderWhateverTheLengthPooledOrNot() throws IOException {
        Random random = new Random(7);
        for (int length : new int[] {0, 1, 4096, WireInput.FIRST_PIECE, WireInput.FIRST_PIECE + 1, 5 << 20,
                ANNOUNCED}) {
            byte[] data = random(length);
            for (boolean pooled : new boolean[] {false, true}) {
                WireInput in = pooled ? pooledInput(data, 300_000) : Wire.input(data, 4096);
                Request r = RequestCodec.readPayload(in, Request.of(Nbd.CMD_WRITE, 0, 9, 512, length));
                assertEquals(ByteBuffer.wrap(data), r.payload());
                assertEquals(length, r.payloadLength());
                assertEquals(9, r.cookie());
                r.release();
            }
        }
        assertEquals(0, usedDirectMemory());
    }
}
