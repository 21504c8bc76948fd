package org.flexnbd.downstream;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.SimpleConversion;

/**
 * The original flexnbd-proxy's read-ahead: a READ of at most {@code limit} bytes is sent upstream doubled, and the
 * second half is kept; a later READ that falls inside the kept range is answered from it, without the upstream. Any
 * other request, and any change of upstream connection, empties it. One per client.
 */
final class ReadAhead {
    private final int limit;
    private final Map<Long, Long> widened = new HashMap<>();
    private int othersOut;
    private long generation;
    private long keptOffset;
    private ByteBuffer kept;
    private long keptGeneration;

    /** {@code limit} 0 turns it off. */
    ReadAhead(int limit) {
        this.limit = limit;
    }

    boolean isOn() {
        return limit > 0;
    }

    /** The kept data for a READ it covers, read on connection {@code connection}; null otherwise. */
    synchronized Reply answer(Request r, long connection) {
        if (kept == null || r.type() != Nbd.CMD_READ || keptGeneration != connection) {
            return null;
        }
        long from = r.offset() - keptOffset;
        if (from < 0 || from + r.length() > kept.remaining()) {
            return null;
        }
        ByteBuffer data = kept.slice((int) from, (int) r.length());
        return Reply.simple(r.cookie(), 0, data);
    }

    /**
     * What to send upstream for {@code r}: a small READ doubled (within the export, and within {@code maxBlock}, the
     * largest request the upstream takes: a larger one it refuses, EINVAL for a READ the client made right), anything
     * else as it is. A READ is not doubled while another request is out: the upstream may run them in any order, so
     * the extra half could be older than a write the client already has an answer for.
     */
    synchronized Request widen(Request r, long exportSize, int maxBlock) {
        if (r.type() != Nbd.CMD_READ) {
            othersOut++;
            forget();
            return r;
        }
        long length = Math.min(Math.min(2 * r.length(), exportSize - r.offset()), maxBlock);
        if (r.length() == 0 || r.length() > limit || length <= r.length() || othersOut > 0) {
            return r;
        }
        widened.put(r.cookie(), generation);
        return Request.of(Nbd.CMD_READ, r.flags(), r.cookie(), r.offset(), length);
    }

    synchronized boolean isWidened(long cookie) {
        return widened.containsKey(cookie);
    }

    /**
     * The reply to the client's own READ, from the reply to the doubled one; the second half is kept when nothing
     * emptied the cache while the READ was out, and it was read on connection {@code connection}.
     */
    synchronized Reply narrow(Request original, Request sent, Reply reply, long connection) {
        Long asked = widened.remove(original.cookie());
        Reply whole = SimpleConversion.toSimple(sent, reply);
        if (whole.error() != 0) {
            return whole;
        }
        ByteBuffer data = whole.data();
        if (asked != null && asked == generation) {
            // A copy: the reply's memory goes back to the pool once the client has been answered.
            ByteBuffer rest = data.slice((int) original.length(), data.remaining() - (int) original.length());
            kept = ByteBuffer.allocate(rest.remaining()).put(rest).flip();
            keptOffset = original.offset() + original.length();
            keptGeneration = connection;
        }
        return Reply.simple(original.cookie(), 0, data.slice(0, (int) original.length()));
    }

    /** A reply to {@code r} was written (or will never come): it is no longer out. */
    synchronized void answered(Request r) {
        if (r.type() != Nbd.CMD_READ && othersOut > 0) {
            othersOut--;
        }
    }

    /** Empties the cache; doubled READs still out will not fill it. */
    synchronized void forget() {
        generation++;
        kept = null;
    }
}
