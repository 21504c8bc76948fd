package org.flexnbd.protocol.loop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayDeque;
import java.util.Arrays;

import org.flexnbd.protocol.PayloadPool;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCounted;

/**
 * What waits to be written on one non-blocking socket, in order: pooled payloads as they are, never copied, each
 * one's memory held until its last byte is written. {@link #writeTo} writes as much as the socket takes in one
 * gathering write, so a batch of requests or replies costs one system call.
 * <p>
 * Small pieces on the heap (headers, payloads under {@link #STAGED_UP_TO}) are copied into pooled memory of the
 * queue's own, one after the other, so that a run of them is one piece of the write. The JDK would copy each into a
 * temporary direct buffer of its own on every write anyway, and a batch of 4 KiB replies would be two pieces each.
 */
public final class Outbound {
    /** Buffers per gathering write: Linux takes up to 1,024; a few dozen already make a batch one call. */
    private static final int GATHER = 64;
    /** Heap pieces up to this size are staged: every header, and the small replies the proxy makes itself. */
    static final int STAGED_UP_TO = 8 * 1024;
    /**
     * The memory staged pieces are copied into, taken from the pool as needed and given back once written, so an
     * idle connection holds none: 32 KiB, eight 4 KiB replies with their headers.
     */
    static final int STAGING = 32 * 1024;

    private record Piece(ByteBuffer data, ReferenceCounted owner) {
    }

    private final ArrayDeque<Piece> pieces = new ArrayDeque<>();
    private final ByteBuffer[] gather = new ByteBuffer[GATHER];
    private final ByteBufAllocator pool;
    /** The staging memory being filled, with a reference of the queue's own, and its view; null when none. */
    private ByteBuf staging;
    private ByteBuffer stagingView;
    private int staged;
    private long pending;
    /** The channel held bytes back at the last write: not everything is on the socket yet. */
    private boolean held;

    public Outbound() {
        this(PayloadPool.shared());
    }

    /** @param pool where the staging memory comes from */
    public Outbound(ByteBufAllocator pool) {
        this.pool = pool;
    }

    /** Queues {@code data} (its remaining bytes) on the heap or owned by nobody: nothing to release. */
    public void add(ByteBuffer data) {
        add(data, null);
    }

    /**
     * Queues {@code data}, whose memory {@code owner} holds: this takes over one reference, released when the last
     * byte is written or the queue is {@link #discard discarded}.
     */
    public void add(ByteBuffer data, ReferenceCounted owner) {
        if (!data.hasRemaining()) {
            if (owner != null) {
                owner.release();
            }
            return;
        }
        if (owner == null && !data.isDirect() && data.remaining() <= STAGED_UP_TO) {
            stage(data);
            return;
        }
        pieces.add(new Piece(data, owner));
        pending += data.remaining();
    }

    /** Copies {@code data} after what is staged; a run of staged pieces in one memory is one piece. */
    private void stage(ByteBuffer data) {
        int n = data.remaining();
        if (staging == null || STAGING - staged < n) {
            takeStaging();
        }
        int at = staged;
        stagingView.put(at, data, data.position(), n);
        data.position(data.limit());
        staged += n;
        pending += n;
        Piece last = pieces.peekLast();
        if (last != null && last.owner == staging && last.data.limit() == at) {
            last.data.limit(at + n); // unwritten bytes of the same memory, just before: one piece
            return;
        }
        pieces.add(new Piece(stagingView.duplicate().limit(at + n).position(at), staging.retain()));
    }

    /** New staging memory; what is queued from the old one keeps it until written. */
    private void takeStaging() {
        dropStaging();
        staging = pool.directBuffer(STAGING, STAGING);
        stagingView = staging.nioBuffer(0, STAGING);
        staged = 0;
    }

    private void dropStaging() {
        if (staging != null) {
            staging.release();
            staging = null;
            stagingView = null;
        }
    }

    /** Bytes queued and not yet written. */
    public long pending() {
        return pending;
    }

    /** Whether everything queued is on the socket, none of it held back by the channel. */
    public boolean isEmpty() {
        return pieces.isEmpty() && !held;
    }

    /**
     * Writes what the socket takes now, without waiting. Returns true when everything queued is written; false when
     * the socket is full (wait for it to be writable, then call again).
     */
    public boolean writeTo(GatheringByteChannel channel) throws IOException {
        HoldsOutput holder = channel instanceof HoldsOutput h ? h : null;
        held = holder != null && !holder.flushHeld();
        if (held) {
            return false;
        }
        while (!pieces.isEmpty()) {
            int n = 0;
            long offered = 0;
            for (Piece p : pieces) {
                gather[n++] = p.data;
                offered += p.data.remaining();
                if (n == GATHER) {
                    break;
                }
            }
            long written;
            try {
                written = channel.write(gather, 0, n);
            } finally {
                Arrays.fill(gather, 0, n, null); // no reference kept to memory that may be given back
            }
            pending -= written;
            Piece head;
            while ((head = pieces.peek()) != null && !head.data.hasRemaining()) {
                pieces.poll();
                if (head.owner != null) {
                    head.owner.release();
                }
            }
            if (written < offered) {
                return false; // the socket is full
            }
        }
        dropStaging(); // all of it written: back to the pool until the next batch
        held = holder != null && !holder.flushHeld();
        return !held;
    }

    /** The socket is gone: every payload goes back. */
    public void discard() {
        Piece p;
        while ((p = pieces.poll()) != null) {
            if (p.owner != null) {
                p.owner.release();
            }
        }
        dropStaging();
        pending = 0;
        held = false;
    }
}
