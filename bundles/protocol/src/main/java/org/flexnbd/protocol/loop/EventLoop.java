package org.flexnbd.protocol.loop;

import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayDeque;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.LongSupplier;

/**
 * One thread's sockets: it waits for any of them to be ready, and runs their handlers, tasks handed in from other
 * threads and timers, in that thread alone. So a client's socket and its upstream connection served by one loop
 * need no locks between them, and no thread wakes another per request (what the threads of the earlier data path
 * spent their time on). Everything but {@link #execute} and {@link #stop} is for the loop's own thread.
 */
public final class EventLoop implements Runnable {
    /** What a registered socket does when it is ready. */
    public interface Handler {
        /** Called on the loop's thread with the operations ready ({@link SelectionKey#OP_READ} and so on). */
        void ready(int readyOps) throws IOException;

        /** The handler threw: its socket is given up. Called once, on the loop's thread. */
        void failed(Throwable cause);
    }

    /** A task due at a time; cancelled, it lets go of its task at once and is dropped when due. */
    private static final class Timer implements Comparable<Timer> {
        final long dueNanos;
        final long order;
        volatile Runnable task;

        Timer(long dueNanos, long order, Runnable task) {
            this.dueNanos = dueNanos;
            this.order = order;
            this.task = task;
        }

        @Override
        public int compareTo(Timer o) {
            int c = Long.compare(dueNanos - o.dueNanos, 0);
            return c != 0 ? c : Long.compare(order, o.order);
        }
    }

    private final Selector selector;
    private final ConcurrentLinkedQueue<Runnable> handedIn = new ConcurrentLinkedQueue<>();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    /** The tasks of the turn under way, taken from {@link #handedIn}; the loop's thread's alone. */
    private final ArrayDeque<Runnable> thisTurn = new ArrayDeque<>();
    private final LongSupplier clock;
    private volatile Thread thread;
    private volatile boolean stopping;
    private long timerOrder;

    public EventLoop() throws IOException {
        this(System::nanoTime);
    }

    EventLoop(LongSupplier clock) throws IOException {
        this.selector = Selector.open();
        this.clock = clock;
    }

    /** Whether the caller is the loop's thread. */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /**
     * Registers {@code channel} (made non-blocking here) for {@code ops}. On the loop's thread only: from another,
     * {@link #execute} the registration.
     */
    public SelectionKey register(SelectableChannel channel, int ops, Handler handler) throws IOException {
        if (thread != null && !inLoop()) {
            throw new IllegalStateException("register on the loop's thread");
        }
        channel.configureBlocking(false);
        return channel.register(selector, ops, handler);
    }

    /** Runs {@code task} on the loop's thread, soon; from any thread. */
    public void execute(Runnable task) {
        handedIn.add(task);
        if (!inLoop()) {
            selector.wakeup();
        }
    }

    /**
     * Runs {@code task} on the loop's thread after {@code delayNanos}; on the loop's thread only. Returns what cancels
     * it, from any thread: a timer holds its task, and everything the task holds, until it is due, so that whoever
     * is done before then (a client gone within the minute its DISCONNECT may take) lets go of it.
     */
    public Runnable schedule(long delayNanos, Runnable task) {
        Timer t = new Timer(clock.getAsLong() + delayNanos, timerOrder++, task);
        timers.add(t);
        return () -> t.task = null;
    }

    /** Whether tasks handed in will still run: the loop has not been stopped. */
    public boolean isRunning() {
        return !stopping;
    }

    /** Ends {@link #run} after the current turn; from any thread. Sockets stay open: their owners close them. */
    public void stop() {
        stopping = true;
        selector.wakeup();
    }

    /**
     * Serves until {@link #stop}. A handler that throws loses its socket ({@link Handler#failed}); a task or timer
     * that throws ends the run with that exception, for its owner's failure policy to deal with: the loop, its
     * sockets and its timers stay, and running it again goes on from there.
     */
    @Override
    public void run() {
        thread = Thread.currentThread();
        while (!stopping) {
            turn();
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // closing the selector deregisters the channels; nothing else to do
        }
    }

    /** One wait and what it found: ready sockets, then tasks handed in, then timers that are due. */
    void turn() {
        try {
            long wait = waitMillis();
            if (wait < 0) {
                selector.selectNow();
            } else {
                selector.select(wait);
            }
        } catch (IOException e) {
            throw new IllegalStateException("selector failed", e);
        }
        for (SelectionKey key : selector.selectedKeys()) {
            dispatch(key);
        }
        selector.selectedKeys().clear();
        runHandedIn();
        runDueTimers();
    }

    private void dispatch(SelectionKey key) {
        Handler h = (Handler) key.attachment();
        int ops;
        try {
            ops = key.readyOps();
        } catch (CancelledKeyException closed) {
            return;
        }
        try {
            h.ready(ops);
        } catch (Exception | Error e) {
            key.cancel();
            h.failed(e);
        }
    }

    private void runHandedIn() {
        Runnable r;
        while ((r = handedIn.poll()) != null) {
            thisTurn.add(r);
        }
        // Tasks handed in meanwhile wait for the next turn: no turn runs for ever.
        while ((r = thisTurn.poll()) != null) {
            r.run();
        }
    }

    private void runDueTimers() {
        long now = clock.getAsLong();
        Timer t;
        while ((t = timers.peek()) != null && t.dueNanos - now <= 0) {
            timers.poll();
            Runnable task = t.task;
            if (task != null) {
                task.run();
            }
        }
    }

    /** -1: do not wait (tasks are waiting); 0: wait for ever; otherwise until the next timer. */
    private long waitMillis() {
        if (!handedIn.isEmpty() || stopping) {
            return -1;
        }
        Timer next = timers.peek();
        if (next == null) {
            return 0;
        }
        long nanos = next.dueNanos - clock.getAsLong();
        return nanos <= 0 ? -1 : Math.max(1, (nanos + 999_999) / 1_000_000);
    }
}
