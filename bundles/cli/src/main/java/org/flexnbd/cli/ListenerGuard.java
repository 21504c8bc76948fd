package org.flexnbd.cli;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

import org.flexnbd.protocol.service.Downstream;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.util.tracker.ServiceTracker;

/**
 * Once the proxy listens, makes sure it keeps listening: when the listener goes (a hot update of flexnbd-downstream,
 * a changed configuration) and no working one is back within the grace time, or a new one cannot bind, that is
 * fatal (F, exit 1) rather than a process that runs on serving nobody; a supervisor then restarts it.
 */
final class ListenerGuard implements AutoCloseable {
    static final int EXIT_NO_LISTENER = 1;
    private static final Logger LOG = Logger.getLogger(ListenerGuard.class.getName());

    private final ServiceTracker<Downstream, Downstream> tracker;
    private final ScheduledExecutorService timer;
    private final IntConsumer exit;
    private final Duration grace;
    private final BundleContext context;
    /** When a listener went last (whether or not another was left). */
    private long lastRemovalNanos = System.nanoTime();

    ListenerGuard(BundleContext context, IntConsumer exit, Duration grace) {
        this.exit = exit;
        this.grace = grace;
        this.context = context;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "listener-guard");
            t.setDaemon(true);
            return t;
        });
        this.tracker = new ServiceTracker<>(context, Downstream.class, null) {
            @Override
            public Downstream addingService(ServiceReference<Downstream> reference) {
                Downstream d = super.addingService(reference);
                // This very service: the tracker holds it only once this method has returned.
                schedule(() -> listening(d), 0);
                return d;
            }

            @Override
            public void removedService(ServiceReference<Downstream> reference, Downstream service) {
                super.removedService(reference, service);
                removed();
                schedule(ListenerGuard.this::check, grace.toMillis());
            }
        };
        tracker.open();
    }

    private void schedule(Runnable check, long delayMillis) {
        try {
            timer.schedule(check, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closed) {
            // stopping: no more checks
        }
    }

    private synchronized void removed() {
        lastRemovalNanos = System.nanoTime();
    }

    private synchronized long sinceLastRemovalNanos() {
        return System.nanoTime() - lastRemovalNanos;
    }

    /**
     * A grace time after a listener went: fatal only when there is none now and none has gone for the whole grace
     * time, which counts from the last loss. Each loss's check once looked at that instant alone, and two restarts 7
     * s apart, each back within its 5 s drain, ended the proxy, the first one's check falling in the second's drain.
     */
    private void check() {
        Downstream d = tracker.getService();
        if (d != null) {
            listening(d);
            return;
        }
        long left = grace.toNanos() - sinceLastRemovalNanos();
        if (left > 0) {
            schedule(this::check, TimeUnit.NANOSECONDS.toMillis(left) + 1);
            return;
        }
        fatal("no listener: the downstream component went and did not come back within " + grace.toSeconds()
                + " s (a failed update of flexnbd-downstream?)");
    }

    private void listening(Downstream d) {
        try {
            d.listenAddress();
        } catch (IOException | RuntimeException e) {
            fatal("no listener: " + Startup.reason(e));
        }
    }

    private void fatal(String message) {
        if (timer.isShutdown() || stopping()) {
            return;
        }
        LOG.log(CliComponent.FATAL, message + "; exiting");
        exit.accept(EXIT_NO_LISTENER);
    }

    /** Whether the framework is stopping, when every listener goes and that is no failure. */
    private boolean stopping() {
        try {
            return context.getBundle(0).getState() != Bundle.ACTIVE;
        } catch (IllegalStateException gone) {
            return true;
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        tracker.close();
    }
}
