package org.flexnbd.protocol.loop;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.flexnbd.protocol.PayloadPool;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;

/** Through a real pipe, whose sink takes 64 KiB at most before it is full. */
public class OutboundTest {
    private Pipe pipe;

    @Before
    public void open() throws IOException {
        pipe = Pipe.open();
        pipe.sink().configureBlocking(false);
        pipe.source().configureBlocking(false);
    }

    @After
    public void close() throws IOException {
        pipe.sink().close();
        pipe.source().close();
    }

    @Test
    public void writesEverythingInOrderAndReleasesEachPayloadOnceWritten() throws IOException {
        Random random = new Random(7);
        Outbound out = new Outbound();
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        List<ByteBuf> payloads = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            byte[] header = new byte[16 + random.nextInt(16)];
            random.nextBytes(header);
            out.add(ByteBuffer.wrap(header));
            expected.write(header);
            byte[] data = new byte[random.nextInt(3) == 0 ? 256 * 1024 : random.nextInt(5000)];
            random.nextBytes(data);
            ByteBuf pooled = PayloadPool.shared().directBuffer(Math.max(1, data.length)).writeBytes(data);
            payloads.add(pooled);
            out.add(pooled.nioBuffer(), pooled);
            expected.write(data);
        }
        assertEquals(expected.size(), out.pending());

        ByteArrayOutputStream received = new ByteArrayOutputStream();
        int fullTimes = writeAll(out, received, expected.size());
        assertTrue("the sink was full at least once, so partial writes were exercised", fullTimes > 0);
        assertArrayEquals(expected.toByteArray(), received.toByteArray());
        assertEquals(0, out.pending());
        for (ByteBuf b : payloads) {
            assertEquals(0, b.refCnt());
        }
    }

    @Test
    public void smallHeapPiecesAreStagedInOrderAcrossPartialWritesAndTheStagingMemoryGoesBack() throws IOException {
        Random random = new Random(11);
        UnpooledByteBufAllocator memory = new UnpooledByteBufAllocator(true);
        Outbound out = new Outbound(memory);
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        int fullTimes = 0;
        for (int batch = 0; batch < 20; batch++) {
            for (int i = 0; i < 50; i++) {
                byte[] header = new byte[16 + random.nextInt(16)];
                random.nextBytes(header);
                ByteBuffer h = ByteBuffer.wrap(header);
                out.add(h);
                assertFalse("the caller's buffer is consumed", h.hasRemaining());
                expected.write(header);
                // up to the staging limit and one past it; sometimes a piece larger than what is left of the staging
                byte[] data = new byte[random.nextInt(Outbound.STAGED_UP_TO + 2)];
                random.nextBytes(data);
                out.add(ByteBuffer.wrap(data));
                expected.write(data);
                if (random.nextInt(10) == 0) { // a pooled payload between staged runs
                    ByteBuf pooled = PayloadPool.shared().directBuffer(3000).writeBytes(new byte[3000]);
                    out.add(pooled.nioBuffer(), pooled);
                    expected.write(new byte[3000]);
                }
            }
            // a few turns of the writer with the reader lagging: partial writes, more added while some is queued
            for (int turn = 0; turn < 3; turn++) {
                fullTimes += turn(out, received);
            }
        }
        fullTimes += writeAll(out, received, expected.size());
        assertTrue("the sink was full at least once", fullTimes > 0);
        assertArrayEquals(expected.toByteArray(), received.toByteArray());
        assertEquals(0, out.pending());
        assertEquals("every staging memory taken was given back", 0, memory.metric().usedDirectMemory());
    }

    @Test
    public void discardGivesStagingMemoryBack() throws IOException {
        UnpooledByteBufAllocator memory = new UnpooledByteBufAllocator(true);
        Outbound out = new Outbound(memory);
        for (int i = 0; i < 100; i++) {
            out.add(ByteBuffer.wrap(new byte[4096]));
        }
        assertTrue(memory.metric().usedDirectMemory() > 0);
        assertFalse("a pipe does not take 400 KiB at once", out.writeTo(pipe.sink()));
        out.discard();
        assertEquals(0, memory.metric().usedDirectMemory());
        assertEquals(0, out.pending());
    }

    @Test
    public void aPayloadHalfWrittenIsHeldUntilItsLastByteAndDiscardGivesEverythingBack() throws IOException {
        Outbound out = new Outbound();
        ByteBuf big = PayloadPool.shared().directBuffer(1 << 20).writeZero(1 << 20);
        ByteBuf after = PayloadPool.shared().directBuffer(10).writeZero(10);
        out.add(big.nioBuffer(), big);
        out.add(after.nioBuffer(), after);
        assertFalse("a pipe does not take 1 MiB at once", out.writeTo(pipe.sink()));
        assertEquals(1, big.refCnt());
        assertTrue(out.pending() > 10);
        out.discard();
        assertEquals(0, big.refCnt());
        assertEquals(0, after.refCnt());
        assertEquals(0, out.pending());
        assertTrue(out.isEmpty());
    }

    @Test
    public void anEmptyPayloadIsReleasedAtOnce() {
        Outbound out = new Outbound();
        ByteBuf none = PayloadPool.shared().directBuffer(8);
        out.add(none.nioBuffer(), none);
        assertEquals(0, none.refCnt());
        assertTrue(out.isEmpty());
    }

    /** One write of what is queued, then one read of what the pipe holds; 1 when the sink was full, else 0. */
    private int turn(Outbound out, ByteArrayOutputStream received) throws IOException {
        int full = out.writeTo(pipe.sink()) ? 0 : 1;
        ByteBuffer chunk = ByteBuffer.allocate(100_000);
        pipe.source().read(chunk);
        received.write(chunk.array(), 0, chunk.position());
        return full;
    }

    /** Turns until everything queued is written, then reads the rest; returns how often the sink was full. */
    private int writeAll(Outbound out, ByteArrayOutputStream received, int expectedSize) throws IOException {
        int fullTimes = 0;
        for (int rounds = 0; rounds < 100_000 && !out.isEmpty(); rounds++) {
            fullTimes += turn(out, received);
        }
        ByteBuffer chunk = ByteBuffer.allocate(100_000);
        while (received.size() < expectedSize) {
            chunk.clear();
            int n = pipe.source().read(chunk);
            assertTrue("the pipe ran dry early", n > 0);
            received.write(chunk.array(), 0, n);
        }
        return fullTimes;
    }
}
