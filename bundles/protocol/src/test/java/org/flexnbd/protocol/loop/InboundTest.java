package org.flexnbd.protocol.loop;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.Random;

import org.flexnbd.protocol.PayloadPool;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import io.netty.buffer.PooledByteBufAllocator;


/** Messages of an 8-byte header (a sequence number and a payload length) and a payload, through a real pipe. */
public class InboundTest {
    private Pipe pipe;

    @Before
    public void open() throws IOException {
        pipe = Pipe.open();
        pipe.source().configureBlocking(false);
        pipe.sink().configureBlocking(false); // a full pipe takes part of a piece: the test goes on reading
    }

    @After
    public void close() throws IOException {
        pipe.sink().close();
        pipe.source().close();
    }

    /** The wire: message i has a payload of its own length, every byte (i + offset) & 0xff. */
    private static byte[] message(int i, int length) {
        ByteBuffer b = ByteBuffer.allocate(8 + length).putInt(i).putInt(length);
        for (int k = 0; k < length; k++) {
            b.put((byte) (i + k));
        }
        return b.array();
    }

    @Test
    public void messagesArrivingInPiecesOfAnySizeAreReadWhole() throws IOException {
        Random random = new Random(11);
        int[] lengths = new int[300];
        ByteBuffer wire = ByteBuffer.allocate(64 << 20);
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = switch (random.nextInt(4)) {
                case 0 -> 0;
                case 1 -> random.nextInt(100);
                case 2 -> random.nextInt(20_000);
                default -> 256 * 1024;
            };
            wire.put(message(i, lengths[i]));
        }
        wire.flip();

        Inbound in = new Inbound(16 * 1024, PayloadPool.shared());
        int next = 0;
        boolean inPayload = false;
        for (int turns = 0; turns < 1_000_000 && next < lengths.length; turns++) {
            // the sender gives a piece of random size, sometimes one byte
            if (wire.hasRemaining()) {
                int piece = Math.min(wire.remaining(), random.nextBoolean() ? 1 + random.nextInt(7) : random.nextInt(70_000));
                wire.position(wire.position() + pipe.sink().write(wire.slice(wire.position(), piece)));
            }
            while (next < lengths.length) {
                if (!inPayload) {
                    if (!in.has(pipe.source(), 8)) {
                        break;
                    }
                    ByteBuffer h = in.peek();
                    assertEquals(next, h.getInt(h.position()));
                    assertEquals(lengths[next], h.getInt(h.position() + 4));
                    in.skip(8);
                    if (next % 2 == 0) {
                        in.beginPayload(lengths[next]);
                    } else {
                        in.beginArrivingPayload(lengths[next]);
                    }
                    inPayload = true;
                }
                if (!in.payloadRead(pipe.source())) {
                    break;
                }
                Inbound.Data p = in.takePayload();
                try {
                    assertEquals(lengths[next], p.data().remaining());
                    assertEquals("pooled, whatever its size", 1, p.owner().refCnt());
                    for (int k = 0; k < lengths[next]; k++) {
                        if (p.data().get(k) != (byte) (next + k)) {
                            fail("message " + next + " byte " + k);
                        }
                    }
                } finally {
                    p.release();
                }
                inPayload = false;
                next++;
            }
        }
        assertEquals(lengths.length, next);
        pipe.sink().close();
        assertFalse(in.has(pipe.source(), 1));
        assertTrue(in.isEnded());
    }

    @Test
    public void aPeerClosingInAPayloadIsAnEndOfFileAndThePayloadGoesBack() throws IOException {
        Inbound in = new Inbound(1024, PayloadPool.shared());
        pipe.sink().write(ByteBuffer.wrap(new byte[] {0, 0, 0, 1, 0, 0, 16, 0, 9, 9}));
        assertTrue(in.has(pipe.source(), 8));
        in.skip(8);
        in.beginPayload(4096);
        assertFalse(in.payloadRead(pipe.source()));
        pipe.sink().close();
        try {
            in.payloadRead(pipe.source());
            fail("a payload cut short must not pass");
        } catch (EOFException expected) {
            // the peer left
        }
        assertTrue(in.isEnded());
    }

    @Test
    public void aPeerClosingInAHeaderLeavesItTruncated() throws IOException {
        Inbound in = new Inbound(1024, PayloadPool.shared());
        pipe.sink().write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        pipe.sink().close();
        assertFalse(in.has(pipe.source(), 8));
        assertFalse(in.has(pipe.source(), 8));
        assertTrue(in.isTruncated());
        assertFalse(in.isEnded());
    }

    @Test
    public void anArrivingPayloadTakesMemoryAsItsDataComesNotAsAnnounced() throws IOException {
        int announced = 32 << 20;
        PooledByteBufAllocator arriving = new PooledByteBufAllocator(true);
        Inbound in = new Inbound(1024, arriving);
        pipe.sink().write(ByteBuffer.wrap(new byte[] {7}));
        in.beginArrivingPayload(announced);
        assertFalse(in.payloadRead(pipe.source()));
        assertTrue("at most the first piece's chunk", arriving.metric().usedDirectMemory() < 8 << 20);
        in.discardPayload();

        PooledByteBufAllocator whole = new PooledByteBufAllocator(true);
        Inbound all = new Inbound(1024, whole);
        all.beginPayload(announced);
        assertTrue("a reply's payload takes it all at once", whole.metric().usedDirectMemory() >= announced);
        all.discardPayload();
    }
}
