package org.flexnbd.demo;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * An in-memory block device. Sparse: storage comes in pages of {@link #PAGE_SIZE} bytes, allocated on first write, so
 * a large export costs nothing until written. Thread-safe: each page's bytes are copied under that page's lock; requests
 * that overlap while both are in flight have no order, as in NBD.
 */
public final class MemoryExport {
    static final int PAGE_SIZE = 64 * 1024;

    private final long size;
    private final ConcurrentMap<Long, byte[]> pages = new ConcurrentHashMap<>();

    public MemoryExport(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        this.size = size;
    }

    public long size() {
        return size;
    }

    /** Whether [offset, offset + length) lies within the export. */
    boolean contains(long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
    }

    /** Fills what {@code dst} has remaining with the bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) {
        checkRange(offset, dst.remaining());
        while (dst.hasRemaining()) {
            long index = offset / PAGE_SIZE;
            int within = (int) (offset % PAGE_SIZE);
            int n = Math.min(dst.remaining(), PAGE_SIZE - within);
            byte[] page = pages.get(index);
            if (page == null) {
                dst.put(new byte[n]);
            } else {
                synchronized (page) {
                    dst.put(page, within, n);
                }
            }
            offset += n;
        }
    }

    /** Stores what {@code src} has remaining at {@code offset}. */
    void write(long offset, ByteBuffer src) {
        checkRange(offset, src.remaining());
        while (src.hasRemaining()) {
            long index = offset / PAGE_SIZE;
            int within = (int) (offset % PAGE_SIZE);
            int n = Math.min(src.remaining(), PAGE_SIZE - within);
            byte[] page = pages.computeIfAbsent(index, i -> new byte[PAGE_SIZE]);
            synchronized (page) {
                src.get(page, within, n);
            }
            offset += n;
        }
    }

    /**
     * Makes the range read as zeroes. Whole pages are released (they become holes) unless {@code allocate}, which
     * writes the zeroes instead, as NBD_CMD_FLAG_NO_HOLE asks.
     */
    void zero(long offset, long length, boolean allocate) {
        checkRange(offset, length);
        long end = offset + length;
        while (offset < end) {
            long index = offset / PAGE_SIZE;
            int within = (int) (offset % PAGE_SIZE);
            int n = (int) Math.min(end - offset, PAGE_SIZE - within);
            if (n == PAGE_SIZE && !allocate) {
                pages.remove(index);
            } else {
                byte[] page = allocate ? pages.computeIfAbsent(index, i -> new byte[PAGE_SIZE]) : pages.get(index);
                if (page != null) {
                    synchronized (page) {
                        Arrays.fill(page, within, within + n, (byte) 0);
                    }
                }
            }
            offset += n;
        }
    }

    /**
     * The allocation status of [offset, offset + length), as consecutive extents: written pages are data, the rest
     * holes that read as zeroes. At most {@code maxExtents} extents; they may then cover less than the range.
     */
    List<Extent> extents(long offset, long length, int maxExtents) {
        checkRange(offset, length);
        List<Extent> extents = new ArrayList<>();
        long end = offset + length;
        long runStart = offset;
        int runFlags = -1;
        while (offset < end) {
            long index = offset / PAGE_SIZE;
            long next = Math.min(end, (index + 1) * PAGE_SIZE);
            int flags = pages.containsKey(index) ? 0 : Extent.HOLE | Extent.ZERO;
            if (runFlags != -1 && flags != runFlags) {
                extents.add(new Extent(offset - runStart, runFlags));
                if (extents.size() == maxExtents) {
                    return extents;
                }
                runStart = offset;
            }
            runFlags = flags;
            offset = next;
        }
        if (runFlags != -1) {
            extents.add(new Extent(end - runStart, runFlags));
        }
        return extents;
    }

    /** Bytes of storage in use. */
    long allocatedBytes() {
        return (long) pages.size() * PAGE_SIZE;
    }

    private void checkRange(long offset, long length) {
        if (!contains(offset, length)) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length + " is outside the export of "
                    + size + " bytes");
        }
    }
}
