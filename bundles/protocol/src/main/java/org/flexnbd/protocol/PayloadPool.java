package org.flexnbd.protocol;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.internal.PlatformDependent;

/**
 * The process's pool of payload memory, shared by both ends of the proxy: a client's WRITE data is taken from it on
 * the client's thread and given back on an upstream thread, and READ data the other way round.
 * <p>
 * One pool for the process, as Netty intends its allocators to be used: pools per connection would each keep
 * their own free memory. Unlike Netty's default allocator, it keeps a cache of freed buffers for every thread, not
 * only for Netty's own: without one, each buffer goes back to its arena, and an arena gives a 4 MiB chunk back to
 * the system whenever its last buffer leaves it, so a steady stream of 256 KiB requests allocated and zeroed a new
 * chunk every few requests (a seventh of the proxy's CPU in a profile of one nbdcopy connection). A buffer freed on
 * another thread returns to the cache of the thread that took it, which takes the next one from there.
 */
public final class PayloadPool {
    /**
     * The largest buffer a thread cache keeps: 1 MiB, fio's and qemu's large requests. When it was 256 KiB, 1 MiB
     * buffers went back to their arena, and a stream of them (16 in flight, each freed in the order taken) emptied a 4
     * MiB chunk every fourth request, which the arena gave back and took anew, zeroed: 5 to 7% of the CPU of 1 MiB
     * writes, and more with the write journal keeping 16 more of them alive (docs/BENCHMARKS.md, the journal's cost).
     * Netty reads it once, from a system property, when the allocator class is first loaded; nothing else in the
     * process loads it earlier.
     */
    private static final String MAX_CACHED = "io.netty.allocator.maxCachedBufferCapacity";
    /**
     * Buffers of one size a thread cache keeps: 32. With 16, the write journal's release of every payload a FLUSH
     * covers (16 and more 1 MiB buffers at once) overflowed the cache, so they went back to the arena, which emptied
     * chunks and later zeroed new ones: the journal cost 14% of 1 MiB write throughput in one interleaved run, 6%
     * with 32 in the same run, and 2.9 and 3.5% in two runs of bench/journal.sh (docs/BENCHMARKS.md). More cost
     * memory: with 64 a size, four clients writing 1 MiB requests at full speed peaked at 252 MiB resident; with 32,
     * 228 MiB.
     */
    private static final int CACHED_PER_SIZE = 32;

    private static final ByteBufAllocator SHARED = create();

    private PayloadPool() {
    }

    public static ByteBufAllocator shared() {
        return SHARED;
    }

    /**
     * Gives the calling thread's cache back to the pool. For threads that are not Netty's own, Netty frees a cache
     * only when the collector finalizes it, which may be long after the thread ended; threads that live for one
     * client or one upstream connection call this as they end, so their caches never outlive them. A buffer freed
     * later by another thread then goes back to its arena.
     */
    public static void releaseThreadCache() {
        FastThreadLocal.removeAll();
    }

    /**
     * A thread that takes and frees payloads all the time (an event loop): one of Netty's own kind. The pool finds
     * such a thread's cache, and its recycled buffer objects, through a field instead of a JDK thread-local, and a
     * buffer object it frees goes into a batch of its own; for other threads Netty puts each one on a queue shared
     * with every thread, and takes them back from there (2.4% of the loop's samples under 4 KiB writes with the
     * write journal, which frees payloads in batches).
     */
    public static Thread newThread(Runnable task, String name) {
        return new FastThreadLocalThread(task, name);
    }

    /**
     * The most payload memory the JVM lets the pool take (its direct memory bound, -XX:MaxDirectMemorySize), which
     * must hold the payload budget, one request besides, and what the threads' caches keep.
     */
    public static long memoryLimit() {
        return PlatformDependent.maxDirectMemory();
    }

    private static ByteBufAllocator create() {
        System.getProperties().putIfAbsent(MAX_CACHED, Integer.toString(1024 * 1024));
        return new PooledByteBufAllocator(true, 0, PooledByteBufAllocator.defaultNumDirectArena(),
                PooledByteBufAllocator.defaultPageSize(), PooledByteBufAllocator.defaultMaxOrder(),
                PooledByteBufAllocator.defaultSmallCacheSize(), CACHED_PER_SIZE, true, 0);
    }
}
