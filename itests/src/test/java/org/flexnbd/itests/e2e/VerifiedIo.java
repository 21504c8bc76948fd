package org.flexnbd.itests.e2e;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.flexnbd.protocol.Reply;

/**
 * A client, on a thread of its own, that writes a 64 KiB block, reads it back and checks every byte, round after
 * round, while a test does something to the proxy under it (a reconnect, a hot update, a retarget).
 */
public final class VerifiedIo implements AutoCloseable {
    public static final int BLOCK = 64 * 1024;

    private final int blocks;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong verified = new AtomicLong();
    private final Thread thread;

    private VerifiedIo(int port, int blocks) {
        this.blocks = blocks;
        this.thread = new Thread(() -> run(port), "verified-io");
        thread.start();
    }

    /** Starts the client against 127.0.0.1:port, cycling over {@code blocks} blocks from offset 0. */
    public static VerifiedIo start(int port, int blocks) {
        return new VerifiedIo(port, blocks);
    }

    public long verified() {
        return verified.get();
    }

    public Throwable failure() {
        return failure.get();
    }

    /** Waits, 30 s at most, for {@code atLeast} verified rounds in all; fails at once if the client failed. */
    public void awaitVerified(long atLeast) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        while (verified.get() < atLeast && failure.get() == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        if (failure.get() != null) {
            throw new AssertionError("the client saw a failure", failure.get());
        }
        if (verified.get() < atLeast) {
            throw new AssertionError("I/O stalled: " + verified.get() + " rounds of " + atLeast);
        }
    }

    /** Waits for {@code more} rounds beyond those verified so far. */
    public void awaitMore(long more) throws InterruptedException {
        awaitVerified(verified.get() + more);
    }

    /** Stops the client; throws if it saw a failure. */
    @Override
    public void close() throws InterruptedException {
        thread.interrupt();
        thread.join(30_000);
        if (failure.get() != null) {
            throw new AssertionError("the client saw a failure", failure.get());
        }
    }

    private void run(int port) {
        try (ScriptedClient c = new ScriptedClient(port)) {
            long cookie = 1;
            for (long n = 0; !Thread.currentThread().isInterrupted(); n++) {
                long offset = (n % blocks) * BLOCK;
                byte fill = (byte) (n * 31 + 7);
                Reply w = c.call(ScriptedClient.write(cookie++, offset, fill, BLOCK));
                if (w.error() != 0) {
                    throw new AssertionError("write " + n + " failed with " + w.error());
                }
                Reply r = c.call(ScriptedClient.read(cookie++, offset, BLOCK));
                ByteBuffer data = r.data();
                if (r.error() != 0 || data.remaining() != BLOCK) {
                    throw new AssertionError("read " + n + " failed with " + r.error());
                }
                for (int i = 0; i < BLOCK; i++) {
                    if (data.get(i) != fill) {
                        throw new AssertionError("read " + n + " has wrong data at " + (offset + i));
                    }
                }
                verified.incrementAndGet();
            }
        } catch (Throwable t) {
            if (!Thread.currentThread().isInterrupted()) {
                failure.compareAndSet(null, t);
            }
        }
    }
}
