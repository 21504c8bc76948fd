package org.flexnbd.protocol.loop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayDeque;
import java.util.Arrays;

import io.netty.util.ReferenceCounted;

/**
 * What waits to be written on one non-blocking socket, in order: headers and payloads as they are, never copied,
 * each payload's pooled memory held until its last byte is written. {@link #writeTo} writes as much as the socket
 * takes in one gathering write, so a batch of requests or replies costs one system call.
 */
public final class Outbound {
    /** Buffers per gathering write: Linux takes up to 1,024; a few dozen already make a batch one call. */
    private static final int GATHER = 64;

    private record Piece(ByteBuffer data, ReferenceCounted owner) {
    }

    private final ArrayDeque<Piece> pieces = new ArrayDeque<>();
    private final ByteBuffer[] gather = new ByteBuffer[GATHER];
    private long pending;
    /** The channel held bytes back at the last write: not everything is on the socket yet. */
    private boolean held;

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
        pieces.add(new Piece(data, owner));
        pending += data.remaining();
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
        pending = 0;
        held = false;
    }
}
