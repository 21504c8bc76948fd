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
    private static final long NOT_ABSENT = Long.MIN_VALUE;
    /** When the listener went, if there is none now; {@link #NOT_ABSENT} while there is one. */
    private long absentSinceNanos = NOT_ABSENT;

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
                present();
                // This very service: the tracker holds it only once this method has returned.
                schedule(() -> listening(d), 0);
                return d;
            }

            @Override
            public void removedService(ServiceReference<Downstream> reference, Downstream service) {
                super.removedService(reference, service);
                if (getService() == null) {
                    absent();
                }
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

    private synchronized void present() {
        absentSinceNanos = NOT_ABSENT;
    }

    private synchronized void absent() {
        if (absentSinceNanos == NOT_ABSENT) {
            absentSinceNanos = System.nanoTime();
        }
    }

    /** How long there has been no listener, without a break; 0 when there is one. */
    private synchronized long absentNanos() {
        return absentSinceNanos == NOT_ABSENT ? 0 : System.nanoTime() - absentSinceNanos;
    }

    /**
     * A grace time after a listener went. It counts from when the listener went last, not from any earlier time: two
     * restarts 7 s apart, each back within 5 s, once ended the proxy, the first one's check falling in the second's
     * drain.
     */
    private void check() {
        Downstream d = tracker.getService();
        if (d != null) {
            listening(d);
            return;
        }
        long left = grace.toNanos() - absentNanos();
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
