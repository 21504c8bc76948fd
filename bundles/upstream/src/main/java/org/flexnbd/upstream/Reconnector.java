package org.flexnbd.upstream;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Gets a link its next connection after one was lost: tries again and again, with back-off, until a server answers
 * that serves the very export the proxy's clients were given (a server now serving something else is refused,
 * loudly, and tried again later). Logs the first failed attempt and every tenth.
 */
final class Reconnector {
    private static final Logger LOG = Logger.getLogger(Reconnector.class.getName());

    private final Supplier<Connector> connectors;
    private final ReferenceExport reference;
    private final Stats stats;
    private final Backoff backoff;
    private final long maxDelayMillis;
    private final BooleanSupplier stopped;
    private int attempts;

    Reconnector(Supplier<Connector> connectors, ReferenceExport reference, Stats stats, long maxDelayMillis,
            BooleanSupplier stopped) {
        this.connectors = connectors;
        this.reference = reference;
        this.stats = stats;
        this.backoff = new Backoff(maxDelayMillis);
        this.maxDelayMillis = maxDelayMillis;
        this.stopped = stopped;
    }

    /** The next connection to the same export; null once stopped. */
    Connection next() throws InterruptedException {
        while (!stopped.getAsBoolean()) {
            Connector connector = connectors.get();
            Connection c;
            try {
                Thread.sleep(backoff.nextDelayMillis());
                attempts++;
                c = connector.connect();
            } catch (InterruptedIOException e) {
                throw new InterruptedException(e.getMessage());
            } catch (IOException e) {
                if (stopped.getAsBoolean()) {
                    return null;
                }
                String why = e.getMessage() == null ? e.toString() : e.getMessage();
                stats.failed("cannot reconnect to upstream " + connector.endpoint() + ": " + why);
                if (attempts == 1 || attempts % 10 == 0) {
                    LOG.warning("upstream " + connector.endpoint() + ": attempt " + attempts + " failed: " + why
                            + "; retrying");
                }
                continue;
            }
            String change = reference.check(c.export);
            if (change == null) {
                return c;
            }
            LOG.severe("upstream " + connector.endpoint() + " now serves a different export (" + change
                    + "); not resuming on it, retrying");
            stats.failed("export changed: " + change);
            c.fail(change, true);
        }
        return null;
    }

    /** Attempts made since the last connection that counted (see {@link #connectionEnded}). */
    int attempts() {
        return attempts;
    }

    /** Connected: the count of attempts starts again. */
    void connected() {
        attempts = 0;
    }

    /**
     * Only a connection that answered something, or lasted, resets the pace: a server that accepts and then refuses
     * everything (ESHUTDOWN, a reset) must not be hammered.
     */
    void connectionEnded(Connection c) {
        if (c.hasDelivered() || c.ageMillis() > maxDelayMillis) {
            backoff.reset();
        }
    }
}
