package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.junit.Test;

public class ReadAheadTest {
    private static final int MAX = Nbd.MAX_PAYLOAD;
    private static final long SIZE = 1 << 20;

    private static Request read(long cookie, long offset, int length) {
        return Request.of(Nbd.CMD_READ, 0, cookie, offset, length);
    }

    /** A reply to {@code sent} whose byte at offset o is (byte) o. */
    private static Reply data(Request sent) {
        ByteBuffer b = ByteBuffer.allocate((int) sent.length());
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) (sent.offset() + i));
        }
        return Reply.simple(sent.cookie(), 0, b);
    }

    @Test
    public void aSmallReadIsDoubledAndItsSecondHalfAnswersTheNextRead() {
        ReadAhead cache = new ReadAhead(4096);
        Request first = read(1, 8192, 4096);
        Request sent = cache.widen(first, SIZE, MAX);
        assertEquals(8192, sent.length());
        assertEquals(first.offset(), sent.offset());
        assertEquals(first.cookie(), sent.cookie());
        Reply toClient = cache.narrow(first, sent, data(sent), 7);
        assertEquals(4096, toClient.data().remaining());
        assertEquals((byte) 8192, toClient.data().get(0));

        Reply hit = cache.answer(read(2, 12288, 1024), 7);
        assertEquals(1024, hit.data().remaining());
        assertEquals((byte) 12288, hit.data().get(0));
        assertEquals(2, hit.cookie());
    }

    @Test
    public void readsOutsideTheKeptRangeOrOnAnotherConnectionMiss() {
        ReadAhead cache = new ReadAhead(4096);
        Request first = read(1, 0, 4096);
        Request sent = cache.widen(first, SIZE, MAX);
        cache.narrow(first, sent, data(sent), 1);
        assertNull(cache.answer(read(2, 6144, 4096), 1));
        assertNull(cache.answer(read(3, 0, 512), 1));
        assertNull("a reconnect empties it", cache.answer(read(4, 4096, 512), 2));
    }

    @Test
    public void anyOtherRequestEmptiesItEvenForReadsStillOut() {
        ReadAhead cache = new ReadAhead(4096);
        Request first = read(1, 0, 4096);
        Request sent = cache.widen(first, SIZE, MAX);
        Request write = Request.write(0, 2, 4096, ByteBuffer.allocate(512));
        assertSame(write, cache.widen(write, SIZE, MAX));
        cache.narrow(first, sent, data(sent), 1);
        assertNull("a READ that was out during the write does not fill it", cache.answer(read(3, 4096, 512), 1));
    }

    @Test
    public void aReadIsWidenedNoFurtherThanTheUpstreamsLargestRequest() {
        ReadAhead cache = new ReadAhead(4096);
        Request atMax = read(1, 0, 4096);
        assertSame("an upstream taking 4 KiB at most refused the doubled READ", atMax, cache.widen(atMax, SIZE, 4096));
        Request under = read(2, 0, 2048);
        assertEquals(3072, cache.widen(under, SIZE, 3072).length());
    }

    @Test
    public void largeReadsAndReadsAtTheEndAreSentAsTheyAre() {
        ReadAhead cache = new ReadAhead(4096);
        Request large = read(1, 0, 8192);
        assertSame(large, cache.widen(large, SIZE, MAX));
        Request last = read(2, SIZE - 4096, 4096);
        assertSame(last, cache.widen(last, SIZE, MAX));
        Request nearEnd = read(3, SIZE - 6144, 4096);
        assertEquals(6144, cache.widen(nearEnd, SIZE, MAX).length());
        assertFalse(cache.isWidened(1));
        assertTrue(cache.isWidened(3));
    }

    @Test
    public void anErrorIsPassedOnAndKeepsNothing() {
        ReadAhead cache = new ReadAhead(4096);
        Request first = read(1, 0, 4096);
        Request sent = cache.widen(first, SIZE, MAX);
        Reply error = cache.narrow(first, sent, Reply.simple(1, Nbd.EIO, null), 1);
        assertEquals(Nbd.EIO, error.error());
        assertNull(cache.answer(read(2, 4096, 512), 1));
    }
}
