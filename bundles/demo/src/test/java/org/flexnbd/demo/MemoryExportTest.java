package org.flexnbd.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.Test;

public class MemoryExportTest {
    private static final int PAGE = MemoryExport.PAGE_SIZE;
    private static final int DATA = 0;
    private static final int HOLE = Extent.HOLE | Extent.ZERO;

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + seed + (i >>> 9));
        }
        return b;
    }

    private static byte[] read(MemoryExport e, long offset, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        e.read(offset, b);
        assertFalse(b.hasRemaining());
        return b.array();
    }

    @Test
    public void aGibibyteCostsNothingUntilWritten() {
        MemoryExport e = new MemoryExport(1L << 30);
        assertEquals(1L << 30, e.size());
        assertEquals(0, e.allocatedBytes());
        assertArrayEquals(new byte[4096], read(e, (1L << 30) - 4096, 4096));
        assertEquals(0, e.allocatedBytes());
        e.write(12345, ByteBuffer.wrap(new byte[] {1}));
        assertEquals(PAGE, e.allocatedBytes());
    }

    @Test
    public void writesAndReadsAcrossPageBoundaries() {
        MemoryExport e = new MemoryExport(10L * PAGE);
        byte[] data = pattern(3 * PAGE + 100, 1);
        e.write(PAGE - 50, ByteBuffer.wrap(data));
        assertArrayEquals(data, read(e, PAGE - 50, data.length));
        assertEquals(5L * PAGE, e.allocatedBytes());
        byte[] around = read(e, PAGE - 60, 20);
        assertArrayEquals(new byte[10], java.util.Arrays.copyOf(around, 10));
        assertArrayEquals(java.util.Arrays.copyOf(data, 10), java.util.Arrays.copyOfRange(around, 10, 20));
    }

    @Test
    public void aSizeThatIsNotAWholeNumberOfPages() {
        MemoryExport e = new MemoryExport(PAGE + 10);
        byte[] data = pattern(20, 3);
        e.write(PAGE - 10, ByteBuffer.wrap(data));
        assertArrayEquals(data, read(e, PAGE - 10, 20));
        assertEquals(List.of(new Extent(PAGE + 10, DATA)), e.extents(0, PAGE + 10, 100));
    }

    @Test
    public void writingDoesNotAdvanceAReadOnlyViewItWasNotGiven() {
        MemoryExport e = new MemoryExport(PAGE);
        ByteBuffer src = ByteBuffer.wrap(pattern(100, 0)).asReadOnlyBuffer();
        e.write(0, src);
        assertFalse(src.hasRemaining()); // the export consumes what it is handed
    }

    @Test
    public void rangesOutsideTheExportAreRefused() {
        MemoryExport e = new MemoryExport(1000);
        assertTrue(e.contains(0, 1000));
        assertTrue(e.contains(1000, 0));
        assertFalse(e.contains(999, 2));
        assertFalse(e.contains(1001, 0));
        assertFalse(e.contains(-1, 1));
        assertFalse(e.contains(Long.MAX_VALUE, Long.MAX_VALUE));
        try {
            e.read(999, ByteBuffer.allocate(2));
            fail();
        } catch (IndexOutOfBoundsException expected) {
            // ok
        }
        try {
            e.write(1000, ByteBuffer.allocate(1));
            fail();
        } catch (IndexOutOfBoundsException expected) {
            // ok
        }
        try {
            new MemoryExport(-1);
            fail();
        } catch (IllegalArgumentException expected) {
            // ok
        }
    }

    @Test
    public void zeroingWholePagesReleasesThemAndPartialPagesAreCleared() {
        MemoryExport e = new MemoryExport(4L * PAGE);
        e.write(0, ByteBuffer.wrap(pattern(4 * PAGE, 5)));
        e.zero(PAGE / 2, 2L * PAGE, false);
        assertEquals(3L * PAGE, e.allocatedBytes()); // page 1 released; pages 0 and 2 partly cleared
        assertArrayEquals(new byte[2 * PAGE], read(e, PAGE / 2, 2 * PAGE));
        assertArrayEquals(java.util.Arrays.copyOf(pattern(4 * PAGE, 5), PAGE / 2), read(e, 0, PAGE / 2));
        assertEquals(List.of(new Extent(PAGE, DATA), new Extent(PAGE, HOLE), new Extent(2L * PAGE, DATA)),
                e.extents(0, 4L * PAGE, 100));
    }

    @Test
    public void zeroingWithoutHolesKeepsThePagesAllocated() {
        MemoryExport e = new MemoryExport(4L * PAGE);
        e.zero(0, 2L * PAGE, true);
        assertEquals(2L * PAGE, e.allocatedBytes());
        assertArrayEquals(new byte[2 * PAGE], read(e, 0, 2 * PAGE));
        assertEquals(List.of(new Extent(2L * PAGE, DATA), new Extent(2L * PAGE, HOLE)), e.extents(0, 4L * PAGE,
                100));
    }

    @Test
    public void zeroingAHoleAllocatesNothing() {
        MemoryExport e = new MemoryExport(4L * PAGE);
        e.zero(100, 3L * PAGE, false);
        assertEquals(0, e.allocatedBytes());
    }

    @Test
    public void extentsStartAndEndInsidePages() {
        MemoryExport e = new MemoryExport(8L * PAGE);
        e.write(2L * PAGE, ByteBuffer.wrap(new byte[1]));
        e.write(5L * PAGE, ByteBuffer.wrap(new byte[1]));
        assertEquals(List.of(new Extent(PAGE - 10, HOLE), new Extent(PAGE, DATA), new Extent(2L * PAGE, HOLE),
                new Extent(20, DATA)), e.extents(PAGE + 10, 4L * PAGE + PAGE - 10 + 20 - PAGE, 100));
        assertEquals(List.of(new Extent(10, DATA)), e.extents(2L * PAGE + 5, 10, 100));
        assertEquals(List.of(new Extent(2L * PAGE, HOLE)), e.extents(0, 5L * PAGE, 1));
        assertEquals(List.of(), e.extents(PAGE, 0, 100));
    }

    @Test
    public void extentsAreCappedButNeverEmptyForARange() {
        MemoryExport e = new MemoryExport(10L * PAGE);
        for (int i = 0; i < 10; i += 2) {
            e.write((long) i * PAGE, ByteBuffer.wrap(new byte[1]));
        }
        List<Extent> three = e.extents(0, 10L * PAGE, 3);
        assertEquals(3, three.size());
        assertEquals(List.of(new Extent(PAGE, DATA), new Extent(PAGE, HOLE), new Extent(PAGE, DATA)), three);
        assertEquals(10, e.extents(0, 10L * PAGE, 100).size());
    }

    @Test
    public void concurrentWritersAndReadersOnSharedPages() throws Exception {
        MemoryExport e = new MemoryExport(64L * PAGE);
        int writers = 8;
        int slice = 8 * PAGE; // each writer its own slice, slices straddle pages
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int id = w;
                done.add(pool.submit(() -> {
                    for (int round = 0; round < 20; round++) {
                        byte[] data = pattern(slice - 3, id * 31 + round);
                        long at = (long) id * slice + 1;
                        e.write(at, ByteBuffer.wrap(data));
                        assertArrayEquals(data, read(e, at, data.length));
                        e.extents(0, e.size(), 1000);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        for (int w = 0; w < writers; w++) {
            assertArrayEquals(pattern(slice - 3, w * 31 + 19), read(e, (long) w * slice + 1, slice - 3));
        }
    }
}
