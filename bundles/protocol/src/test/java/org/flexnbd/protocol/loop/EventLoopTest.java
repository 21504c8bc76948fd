package org.flexnbd.protocol.loop;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.SelectionKey;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** A real loop on a thread of its own, with a real pipe as its socket. */
public class EventLoopTest {
    private EventLoop loop;
    private Thread thread;
    private Pipe pipe;

    @Before
    public void start() throws IOException {
        loop = new EventLoop();
        thread = new Thread(loop, "loop-under-test");
        thread.start();
        pipe = Pipe.open();
    }

    @After
    public void stop() throws Exception {
        loop.stop();
        thread.join(5000);
        pipe.sink().close();
        pipe.source().close();
    }

    private void onLoop(Runnable r) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        loop.execute(() -> {
            r.run();
            done.countDown();
        });
        assertTrue(done.await(5, TimeUnit.SECONDS));
    }

    @Test
    public void tasksHandedInRunOnTheLoopsThreadInOrder() throws InterruptedException {
        List<String> ran = new CopyOnWriteArrayList<>();
        AtomicReference<Thread> where = new AtomicReference<>();
        for (int i = 0; i < 100; i++) {
            int n = i;
            loop.execute(() -> ran.add("t" + n));
        }
        onLoop(() -> where.set(Thread.currentThread()));
        assertSame(thread, where.get());
        assertEquals(100, ran.size());
        for (int i = 0; i < 100; i++) {
            assertEquals("t" + i, ran.get(i));
        }
    }

    @Test
    public void timersRunWhenDueInTheOrderOfTheirDeadlines() throws InterruptedException {
        List<String> ran = new CopyOnWriteArrayList<>();
        CountDownLatch all = new CountDownLatch(3);
        long start = System.nanoTime();
        onLoop(() -> {
            loop.schedule(TimeUnit.MILLISECONDS.toNanos(120), () -> { ran.add("late"); all.countDown(); });
            loop.schedule(TimeUnit.MILLISECONDS.toNanos(40), () -> { ran.add("early"); all.countDown(); });
            loop.schedule(TimeUnit.MILLISECONDS.toNanos(40), () -> { ran.add("early too"); all.countDown(); });
        });
        assertTrue(all.await(5, TimeUnit.SECONDS));
        assertTrue("not before its time", System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(120));
        assertEquals(List.of("early", "early too", "late"), ran);
    }

    @Test
    public void aCancelledTimerDoesNotRun() throws InterruptedException {
        List<String> ran = new CopyOnWriteArrayList<>();
        CountDownLatch after = new CountDownLatch(1);
        onLoop(() -> {
            Runnable cancel = loop.schedule(TimeUnit.MILLISECONDS.toNanos(40), () -> ran.add("cancelled"));
            loop.schedule(TimeUnit.MILLISECONDS.toNanos(80), () -> { ran.add("kept"); after.countDown(); });
            cancel.run();
        });
        assertTrue(after.await(5, TimeUnit.SECONDS));
        assertEquals(List.of("kept"), ran);
    }

    @Test
    public void aReadySocketCallsItsHandlerAndAHandlerThatThrowsLosesItsSocketOnly() throws Exception {
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch failed = new CountDownLatch(1);
        AtomicReference<Throwable> why = new AtomicReference<>();
        ByteBuffer got = ByteBuffer.allocate(16);
        onLoop(() -> {
            try {
                loop.register(pipe.source(), SelectionKey.OP_READ, new EventLoop.Handler() {
                    @Override
                    public void ready(int ops) throws IOException {
                        assertTrue((ops & SelectionKey.OP_READ) != 0);
                        pipe.source().read(got);
                        read.countDown();
                        if (got.position() >= 3) {
                            throw new IOException("the handler's own failure");
                        }
                    }

                    @Override
                    public void failed(Throwable cause) {
                        why.set(cause);
                        failed.countDown();
                    }
                });
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        pipe.sink().write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertTrue(read.await(5, TimeUnit.SECONDS));
        assertTrue(failed.await(5, TimeUnit.SECONDS));
        assertEquals("the handler's own failure", why.get().getMessage());
        List<String> after = new CopyOnWriteArrayList<>();
        onLoop(() -> after.add("the loop goes on"));
        assertEquals(List.of("the loop goes on"), after);
        assertFalse(pipe.source().isBlocking());
    }

    @Test
    public void registeringFromAnotherThreadIsRefused() throws IOException {
        onLoopQuietly();
        try {
            loop.register(pipe.source(), SelectionKey.OP_READ, null);
            throw new AssertionError("registered from a foreign thread");
        } catch (IllegalStateException expected) {
            // register through execute instead
        }
    }

    private void onLoopQuietly() {
        try {
            onLoop(() -> { });
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    public void stopEndsTheLoop() throws InterruptedException {
        onLoopQuietly();
        loop.stop();
        thread.join(5000);
        assertFalse(thread.isAlive());
    }
}
