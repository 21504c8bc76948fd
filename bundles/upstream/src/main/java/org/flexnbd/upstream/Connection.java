package org.flexnbd.upstream;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;

import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/**
 * One negotiated upstream connection. It fails once: the first reason given is kept, the socket is closed, and the
 * threads using it see their I/O end.
 */
final class Connection {
    /**
     * Small: a payload larger than half of it bypasses it, so it holds headers and small payloads only, and each
     * client served has a connection of its own: hundreds of them must fit the heap beside the payload budget.
     */
    static final int BUFFER = 16 * 1024;

    final ProgressChannel channel;
    final WireInput in;
    final WireOutput out;
    final UpstreamExport export;
    private volatile String failure;
    private volatile boolean quiet;
    private volatile boolean delivering;
    private volatile boolean delivered;
    private final long openedNanos = System.nanoTime();
    private volatile Runnable beforeWait = () -> { };
    // Guarded by the link's lock: what was written here and not answered yet, and whether the server said it is
    // shutting down (ESHUTDOWN), after which nothing more is sent here.
    private final Set<Long> unanswered = new HashSet<>();
    private boolean refusing;

    Connection(ProgressChannel channel, WireInput in, WireOutput out, UpstreamExport export) {
        this.channel = channel;
        this.in = in;
        this.out = out;
        this.export = export;
    }

    /** Ends the connection; {@code quietly} when nothing went wrong (a client left, a DISCONNECT). */
    synchronized void fail(String reason, boolean quietly) {
        if (failure == null) {
            failure = reason;
            quiet = quietly;
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }

    boolean isFailed() {
        return failure != null;
    }

    String failure() {
        return failure;
    }

    boolean isQuiet() {
        return quiet;
    }

    void sent(long cookie) {
        unanswered.add(cookie);
    }

    void answered(long cookie) {
        unanswered.remove(cookie);
    }

    boolean awaits(long cookie) {
        return unanswered.contains(cookie);
    }

    boolean hasUnanswered() {
        return !unanswered.isEmpty();
    }

    void refuse() {
        refusing = true;
    }

    boolean isRefusing() {
        return refusing;
    }

    /** What to do before the reader waits for the upstream: flush the replies delivered so far. */
    void beforeWait(Runnable r) {
        beforeWait = r;
    }

    void waiting() {
        beforeWait.run();
    }

    /** While a reply is handed to a client, a slow client is not the upstream's fault. */
    void delivering(boolean now) {
        delivering = now;
        channel.touch();
    }

    void delivered() {
        delivered = true;
    }

    long ageMillis() {
        return (System.nanoTime() - openedNanos) / 1_000_000;
    }

    boolean hasDelivered() {
        return delivered;
    }

    boolean isDelivering() {
        return delivering;
    }
}
