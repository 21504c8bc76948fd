package org.flexnbd.protocol;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What one structured reply has said so far, in offsets relative to its request: the bytes its content chunks
 * covered, the offsets its ERROR_OFFSET chunks named, the meta contexts it gave extents for, and whether it carried
 * an error. Adjacent content ranges are kept merged, so a reply sent in order costs one entry however many chunks
 * it has.
 */
final class ReplyProgress {
    private final TreeMap<Long, Long> covered = new TreeMap<>(); // start to end, disjoint
    private final TreeSet<Long> errorOffsets = new TreeSet<>();
    private final Set<Integer> contexts = new HashSet<>();
    private long coveredBytes;
    private int contentChunks;
    private boolean errored;

    /** Whether [start, end) shares a byte with an earlier content chunk. */
    boolean overlapsContent(long start, long end) {
        Map.Entry<Long, Long> before = covered.floorEntry(start);
        if (before != null && before.getValue() > start) {
            return true;
        }
        Long next = covered.ceilingKey(start);
        return next != null && next < end;
    }

    /** Whether an earlier ERROR_OFFSET named an offset in [start, end). */
    boolean holdsErrorOffset(long start, long end) {
        Long at = errorOffsets.ceiling(start);
        return at != null && at < end;
    }

    void addContent(long start, long end) {
        long from = start;
        long to = end;
        Map.Entry<Long, Long> before = covered.floorEntry(start);
        if (before != null && before.getValue() == start) {
            from = before.getKey();
        }
        Long after = covered.remove(end);
        if (after != null) {
            to = after;
        }
        covered.put(from, to);
        coveredBytes += end - start;
        contentChunks++;
    }

    void addErrorOffset(long at) {
        errorOffsets.add(at);
        errored = true;
    }

    void errored() {
        errored = true;
    }

    /** Records a context's extents; false if this reply already gave them. */
    boolean addContext(int id) {
        return contexts.add(id);
    }

    long coveredBytes() {
        return coveredBytes;
    }

    int contentChunks() {
        return contentChunks;
    }

    boolean isErrored() {
        return errored;
    }

    Set<Integer> contexts() {
        return contexts;
    }
}
