package org.flexnbd.protocol;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A thread of its own that runs a round of checks at a fixed step until stopped: the proxy's watchdogs (a client's
 * time limits, an upstream connection's progress). Its failure policy: a round that fails, an Error included, is
 * logged (E) and the next round comes after the usual step. A watchdog that died, or a scheduled task cancelled by
 * an exception escaping it, would leave every limit it enforces unenforced, silently.
 */
public final class Watchdog {
    private static final Logger LOG = Logger.getLogger(Watchdog.class.getName());

    private final String name;
    private final long stepMillis;
    private final Runnable round;
    private final Thread thread;
    private volatile boolean stopped;

    private Watchdog(String name, long stepMillis, Runnable round) {
        this.name = name;
        this.stepMillis = stepMillis;
        this.round = round;
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /** Starts a thread named {@code name} running {@code round} every {@code stepMillis}, the first after one step. */
    public static Watchdog start(String name, long stepMillis, Runnable round) {
        if (stepMillis <= 0) {
            throw new IllegalArgumentException("a watchdog's step must be above 0 ms, not " + stepMillis);
        }
        Watchdog w = new Watchdog(name, stepMillis, round);
        w.thread.start();
        return w;
    }

    /** No round starts after this returns; one under way finishes on its own. */
    public void stop() {
        stopped = true;
        thread.interrupt();
    }

    private void run() {
        while (!stopped) {
            try {
                Thread.sleep(stepMillis);
            } catch (InterruptedException e) {
                return;
            }
            if (stopped) {
                return;
            }
            try {
                round.run();
            } catch (Throwable e) { // an Error too: OutOfMemoryError, a thread that could not be made
                LOG.log(Level.SEVERE, name + ": a round failed; the next in " + stepMillis + " ms", e);
            }
        }
    }
}
