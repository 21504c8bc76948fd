package org.flexnbd.upstream;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Gets a link its next connection after one was lost: tries again and again, with back-off, until a server answers
 * that serves the very export the proxy's clients were given (a server now serving something else is refused,
 * loudly, and tried again later). Logs the first failed attempt and every tenth. When another link gets a
 * connection, the pause ends at once ({@link Comeback}), once: until a connection of its own has answered something,
 * its next pauses run their course, so that an upstream that accepts and then fails every connection is not
 * hammered by links waking one another.
 */
final class Reconnector {
    private static final Logger LOG = Logger.getLogger(Reconnector.class.getName());

    private final Supplier<Connector> connectors;
    private final ReferenceExport reference;
    private final Stats stats;
    private final Backoff backoff;
    private final long maxDelayMillis;
    private final BooleanSupplier stopped;
    private final Comeback comeback;
    private int attempts;
    /** Why the attempt before failed, so that a new reason is logged at once. */
    private String lastWhy;
    private boolean cutShort;

    Reconnector(Supplier<Connector> connectors, ReferenceExport reference, Stats stats, long maxDelayMillis,
            BooleanSupplier stopped, Comeback comeback) {
        this.connectors = connectors;
        this.reference = reference;
        this.stats = stats;
        this.backoff = new Backoff(maxDelayMillis);
        this.maxDelayMillis = maxDelayMillis;
        this.stopped = stopped;
        this.comeback = comeback;
    }

    /** The next connection to the same export; null once stopped. */
    Connection next() throws InterruptedException {
        long mark = comeback.mark();
        while (!stopped.getAsBoolean()) {
            Connector connector = connectors.get();
            Connection c;
            try {
                long delay = backoff.nextDelayMillis();
                if (cutShort) {
                    Thread.sleep(delay);
                } else {
                    cutShort = comeback.pause(mark, delay);
                }
                mark = comeback.mark();
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
                // The first, every tenth, and any whose reason differs from the one before: an upstream that
                // went from refusing connections to accepting them and never answering the handshake said so.
                if (attempts == 1 || attempts % 10 == 0 || !why.equals(lastWhy)) {
                    LOG.warning("upstream " + connector.endpoint() + ": attempt " + attempts + " failed: " + why
                            + "; retrying");
                }
                lastWhy = why;
                continue;
            }
            String change = reference.check(c.export);
            if (change == null) {
                comeback.connected();
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
        lastWhy = null;
    }

    /** The connection was given up for a reason of the proxy's own (the journal is written again first). */
    void replaced() {
        backoff.reset();
        cutShort = false;
    }

    /**
     * Only a connection that answered something, or lasted, resets the pace: a server that accepts and then refuses
     * everything (ESHUTDOWN, a reset) must not be hammered.
     */
    void connectionEnded(Connection c) {
        if (c.hasDelivered() || c.ageMillis() > maxDelayMillis) {
            backoff.reset();
            cutShort = false;
        }
    }
}
