package org.flexnbd.downstream;

import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

import org.flexnbd.protocol.tls.TlsMemory;

/**
 * The places for clients, bounded by the memory they take. Each client served costs a fixed amount whatever it does:
 * two 16 KiB wire buffers in direct memory (one reading its socket, one its upstream connection), four more while
 * the two handshakes last, beside the payload budget, and the objects around them on the heap; and, on each side
 * where TLS is on, the TLS's buffers, several times that. With {@code --max-clients} in the hundreds that adds up,
 * and a JVM out of memory fails wherever it happens to allocate (100 idle clients with pre-shared keys on both sides
 * took 47 MiB of heap: 129 of them ran the default 64 MiB heap out, in a client's thread and an upstream loop). So
 * a client takes its memory here before it is served, and waits for it, unanswered, while other clients hold it.
 * <p>
 * The listener's TLS is known when it starts; the upstream's is asked as each client comes, since the upstream
 * service can be replaced in a running proxy (a client keeps what it was charged when it came: one accepted before
 * an upstream was there, or before a hot update to one with TLS, counts none of the upstream's).
 */
final class ClientMemory {
    private static final Logger LOG = Logger.getLogger(ClientMemory.class.getName());
    /**
     * Heap per client in plain text. Measured when the buffers were on the heap: 300 idle clients took 24.6 MiB
     * after a full collection, 84 KiB each, 64 KiB of it the buffers; with some margin.
     */
    static final long HEAP_PER_CLIENT = 32 * 1024;
    /**
     * Direct memory per client in plain text, the most it holds: its six wire buffers while both handshakes last.
     * Once they are over it holds two; the others go at the next collection, which the JDK forces before it refuses
     * direct memory.
     */
    static final long DIRECT_PER_CLIENT = 96 * 1024;
    /** Heap for everything but the clients: the framework and its bundles (4 MiB), with slack. */
    static final long HEAP_RESERVE = 16L * 1024 * 1024;
    /** Direct memory beside the budget and the clients: what the pool's thread caches keep, with slack. */
    static final long DIRECT_RESERVE = 32L * 1024 * 1024;
    private static final int KIB = 1024;

    private final Semaphore clients;
    private final Semaphore heapKiB;
    private final Semaphore directKiB;
    private final int heapTotalKiB;
    private final int directTotalKiB;
    private final TlsMemory listenerTls;
    private final AtomicBoolean waitLogged = new AtomicBoolean();

    /**
     * @param wanted {@code --max-clients}
     * @param budget the payload budget, which lives in direct memory
     * @param listenerTls what the listener's TLS holds per client
     */
    ClientMemory(int wanted, long budget, long maxHeap, long maxDirect, TlsMemory listenerTls) {
        this.listenerTls = listenerTls;
        this.heapTotalKiB = kib(Math.max(0, maxHeap - HEAP_RESERVE));
        this.directTotalKiB = kib(Math.max(0, maxDirect - budget - DIRECT_RESERVE));
        this.clients = new Semaphore(wanted);
        this.heapKiB = new Semaphore(heapTotalKiB);
        this.directKiB = new Semaphore(directTotalKiB);
        long fit = fit(TlsMemory.NONE);
        if (wanted > fit) {
            LOG.warning("--max-clients " + wanted + ": a heap of " + maxHeap / (1 << 20) + " MiB and direct memory of "
                    + maxDirect / (1 << 20) + " MiB (the payload budget, " + budget / (1 << 20) + " MiB, included)"
                    + " hold " + fit + " clients; serving at most " + fit + " at once, the others wait (raise -Xmx by "
                    + heapPerClient(TlsMemory.NONE) / 1024 + " KiB and -XX:MaxDirectMemorySize by "
                    + directPerClient(TlsMemory.NONE) / 1024 + " KiB a client" + tlsNote(TlsMemory.NONE) + ")");
        }
    }

    /** How many clients the memory holds at once (at least one) when the upstream's TLS takes {@code upstreamTls}. */
    long fit(TlsMemory upstreamTls) {
        long byHeap = heapTotalKiB / kib(heapPerClient(upstreamTls));
        long byDirect = directTotalKiB / kib(directPerClient(upstreamTls));
        return Math.max(1, Math.min(byHeap, byDirect));
    }

    /**
     * Waits for a place and the memory of a client whose upstream connection's TLS takes {@code upstreamTls}; the
     * place is the caller's to {@link Place#release} once the client has gone.
     */
    Place take(TlsMemory upstreamTls) throws InterruptedException {
        // One client always fits, however little memory there is: the proxy must serve someone.
        int heap = Math.min(heapTotalKiB, kib(heapPerClient(upstreamTls)));
        int direct = Math.min(directTotalKiB, kib(directPerClient(upstreamTls)));
        clients.acquire();
        boolean heapTaken = false;
        boolean done = false;
        try {
            if (!heapKiB.tryAcquire(heap)) {
                logWait(upstreamTls);
                heapKiB.acquire(heap);
            }
            heapTaken = true;
            if (!directKiB.tryAcquire(direct)) {
                logWait(upstreamTls);
                directKiB.acquire(direct);
            }
            done = true;
        } finally {
            if (!done) { // interrupted, or an Error: nothing is kept
                if (heapTaken) {
                    heapKiB.release(heap);
                }
                clients.release();
            }
        }
        return new Place(heap, direct);
    }

    private void logWait(TlsMemory upstreamTls) {
        if (waitLogged.compareAndSet(false, true)) {
            LOG.warning("a client waits for memory: " + fit(upstreamTls) + " clients fill it, at "
                    + heapPerClient(upstreamTls) / 1024 + " KiB of heap and " + directPerClient(upstreamTls) / 1024
                    + " KiB of direct memory each" + tlsNote(upstreamTls) + "; raise -Xmx and"
                    + " -XX:MaxDirectMemorySize to serve more at once (logged once)");
        }
    }

    private String tlsNote(TlsMemory upstreamTls) {
        boolean listener = !listenerTls.equals(TlsMemory.NONE);
        boolean upstream = !upstreamTls.equals(TlsMemory.NONE);
        return listener && upstream ? ", TLS on both sides included"
                : listener ? ", the clients' TLS included" : upstream ? ", the upstream's TLS included" : "";
    }

    private long heapPerClient(TlsMemory upstreamTls) {
        return HEAP_PER_CLIENT + listenerTls.heapBytes() + upstreamTls.heapBytes();
    }

    private long directPerClient(TlsMemory upstreamTls) {
        return DIRECT_PER_CLIENT + listenerTls.directBytes() + upstreamTls.directBytes();
    }

    private static int kib(long bytes) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, (bytes + KIB - 1) / KIB));
    }

    /** One client's place and memory, given back once. */
    final class Place {
        private final int heap;
        private final int direct;
        private final AtomicBoolean released = new AtomicBoolean();

        private Place(int heap, int direct) {
            this.heap = heap;
            this.direct = direct;
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                directKiB.release(direct);
                heapKiB.release(heap);
                clients.release();
            }
        }
    }
}
