package org.flexnbd.protocol;

import java.nio.ByteBuffer;

/** What {@link WireInput} and {@link WireOutput} share about the size of one read or write. */
final class Transfers {
    /**
     * The most bytes handed to one channel read or write. The JDK moves a heap buffer through a temporary direct
     * buffer of the same size and keeps it per thread: without a bound, every thread that once carried a 32 MiB
     * payload would hold 32 MiB of native memory, and a few of them at once exhausted the direct memory limit
     * (an OutOfMemoryError in the reader, seen with 32 MiB reads from 4 clients). 1 MiB, not less: 1 MiB reads
     * through the proxy lost a quarter of their throughput with 256 KiB pieces.
     */
    static final int MAX_TRANSFER = 1024 * 1024;

    private Transfers() {
    }

    /** A view of at most {@link #MAX_TRANSFER} bytes from {@code b}'s position; {@code b} itself does not move. */
    static ByteBuffer piece(ByteBuffer b) {
        return b.slice(b.position(), Math.min(b.remaining(), MAX_TRANSFER));
    }
}
