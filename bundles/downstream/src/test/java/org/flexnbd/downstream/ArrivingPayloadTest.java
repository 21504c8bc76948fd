package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.EOFException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.Random;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.WireInput;
import org.junit.Test;

public class ArrivingPayloadTest {
    private static final int LENGTH = 32 << 20;

    @Test
    public void aHeaderAndOneByteTakeNoMoreThanTheFirstPiece() throws IOException {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        WireInput in = new WireInput(Channels.newChannel(new java.io.ByteArrayInputStream(new byte[1])), 16 * 1024);
        long before = threads.getCurrentThreadAllocatedBytes();
        try {
            ArrivingPayload.read(in, Request.of(Nbd.CMD_WRITE, 0, 1, 0, LENGTH));
            fail("one byte of 32 MiB");
        } catch (EOFException expected) {
            // the client went away with the rest
        }
        long taken = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue("allocated " + taken, taken < ArrivingPayload.FIRST + (512 << 10));
    }

    @Test
    public void everyByteArrivesInOrderWhateverTheLength() throws IOException {
        Random random = new Random(7);
        for (int length : new int[] {0, 1, 4096, ArrivingPayload.FIRST, ArrivingPayload.FIRST + 1, 5 << 20,
                LENGTH}) {
            byte[] data = new byte[length];
            random.nextBytes(data);
            WireInput in = new WireInput(Channels.newChannel(new java.io.ByteArrayInputStream(data)), 16 * 1024);
            Request r = ArrivingPayload.read(in, Request.of(Nbd.CMD_WRITE, 0, 9, 512, length));
            assertEquals(ByteBuffer.wrap(data), r.payload());
            assertEquals(length, r.payloadLength());
            assertEquals(512, r.offset());
            assertEquals(9, r.cookie());
        }
    }

    @Test
    public void otherRequestsAreThemselves() throws IOException {
        Request read = Request.of(Nbd.CMD_READ, 0, 3, 0, LENGTH);
        assertEquals(read, ArrivingPayload.read(new WireInput(Channels.newChannel(
                new java.io.ByteArrayInputStream(new byte[0])), 64), read));
    }
}
