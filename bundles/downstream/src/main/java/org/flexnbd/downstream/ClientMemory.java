package org.flexnbd.downstream;

import java.util.logging.Logger;

/**
 * How many clients the memory can hold. Each client served costs a fixed amount whatever it does: two 16 KiB wire
 * buffers in direct memory (one reading its socket, one its upstream connection), four more while the two
 * handshakes last, beside the payload budget, and the objects around them on the heap. With {@code --max-clients}
 * in the hundreds that adds up, and a JVM out of memory fails wherever it happens to allocate. So the places are
 * bounded here, at start, with a log line, instead.
 */
final class ClientMemory {
    private static final Logger LOG = Logger.getLogger(ClientMemory.class.getName());
    /**
     * Heap per client. Measured when the buffers were on the heap: 300 idle clients took 24.6 MiB after a full
     * collection, 84 KiB each, 64 KiB of it the buffers; with some margin.
     */
    static final long HEAP_PER_CLIENT = 32 * 1024;
    /**
     * Direct memory per client, the most it holds: its six wire buffers while both handshakes last. Once they are
     * over it holds two; the others go at the next collection, which the JDK forces before it refuses direct memory.
     */
    static final long DIRECT_PER_CLIENT = 96 * 1024;
    /** Heap for everything but the clients: the framework and its bundles (4 MiB), with slack. */
    static final long HEAP_RESERVE = 16L * 1024 * 1024;
    /** Direct memory beside the budget and the clients: what the pool's thread caches keep, with slack. */
    static final long DIRECT_RESERVE = 32L * 1024 * 1024;

    private ClientMemory() {
    }

    /**
     * {@code wanted} places, or fewer (at least one) when {@code maxHeap} and {@code maxDirect} cannot hold them
     * beside the payload {@code budget}, which lives in direct memory.
     */
    static int places(int wanted, long budget, long maxHeap, long maxDirect) {
        long byHeap = (maxHeap - HEAP_RESERVE) / HEAP_PER_CLIENT;
        long byDirect = (maxDirect - budget - DIRECT_RESERVE) / DIRECT_PER_CLIENT;
        long fit = Math.max(1, Math.min(byHeap, byDirect));
        if (wanted <= fit) {
            return wanted;
        }
        LOG.warning("--max-clients " + wanted + ": a heap of " + maxHeap / (1 << 20) + " MiB and direct memory of "
                + maxDirect / (1 << 20) + " MiB (the payload budget, " + budget / (1 << 20) + " MiB, included) hold "
                + fit + " clients; serving at most " + fit + " at once, the others wait (raise -Xmx by "
                + HEAP_PER_CLIENT / 1024 + " KiB and -XX:MaxDirectMemorySize by " + DIRECT_PER_CLIENT / 1024
                + " KiB a client)");
        return (int) fit;
    }
}
