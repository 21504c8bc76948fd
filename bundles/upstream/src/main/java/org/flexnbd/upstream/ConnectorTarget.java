package org.flexnbd.upstream;

import java.io.IOException;

import org.flexnbd.protocol.service.UpstreamTarget;

/**
 * Where one upstream connector's connections go: the configured server, or where a retarget() moved them; and the
 * hand-over of such a move to the next connector when this one is replaced. One lock ties moving to handing over,
 * so that no move is lost between them: once handed over (or stopped), a move fails with the reason. No I/O.
 */
final class ConnectorTarget {
    private final Endpoint configured;
    private volatile Connector connector;
    /** Handed over to the next connector, or stopped: nothing moves from now on. */
    private boolean replaced;
    /** A retarget() of this connector's own, which a move handed over from the one before must not undo. */
    private boolean movedHere;

    ConnectorTarget(Connector configured) {
        this.configured = configured.endpoint();
        this.connector = configured;
    }

    Connector current() {
        return connector;
    }

    Endpoint configured() {
        return configured;
    }

    /** Fails when a move could not be made, before anyone spends time checking the server it would go to. */
    synchronized void checkMovable(Endpoint to) throws IOException {
        if (replaced) {
            throw new IOException(gone(to));
        }
    }

    /** Moves to {@code next}, which was checked; returns where it was. */
    synchronized Endpoint move(Connector next) throws IOException {
        if (replaced) {
            throw new IOException(gone(next.endpoint()));
        }
        Endpoint was = connector.endpoint();
        connector = next;
        movedHere = true;
        return was;
    }

    private static String gone(Endpoint to) {
        return "the upstream connector was replaced or stopped (its configuration changed, its bundle was updated)"
                + " before it could move to " + to + ": retarget again";
    }

    /** This connector is replaced: where it was moved, or null; it moves no more. May be asked more than once. */
    synchronized UpstreamTarget handOver() {
        replaced = true;
        return moveMade();
    }

    /** Where a retarget moved the connector, or null when it is at its configured server. Under the lock. */
    private UpstreamTarget moveMade() {
        Endpoint now = connector.endpoint();
        return same(now, configured) ? null : new UpstreamTarget(configured.toString(), now.address(), now.port());
    }

    /**
     * The connector before this one was moved to {@code before}: this one goes there too, unless its configuration
     * names another server than the one {@code before} replaced, or it was moved itself since. Returns the log line,
     * null when there is nothing to say; {@link #current()} tells where it is now.
     */
    synchronized String adopt(UpstreamTarget before) {
        Endpoint next = new Endpoint(before.address(), before.port(), configured.bind());
        Endpoint now = connector.endpoint();
        if (same(now, next) || same(next, configured)) {
            return null;
        }
        if (!before.replaced().equals(configured.toString())) {
            return "the configuration names upstream " + configured + " in place of " + before.replaced()
                    + ": the retarget to " + next + " is over";
        }
        if (movedHere) {
            return "staying on upstream " + now + ", where a retarget moved this connector, not on " + next
                    + ", where one moved the connector before it";
        }
        connector = connector.at(next);
        return "staying on upstream " + next + ", where a retarget moved the connector before this one (configured: "
                + configured + ")";
    }

    /**
     * The connector stops: where it was moved, when no connector took that over (for the next one, through the
     * desk), else null. It moves no more.
     */
    synchronized UpstreamTarget stop() {
        if (replaced) {
            return null; // handed over already, or stopped before
        }
        replaced = true;
        return moveMade();
    }

    /** The same server: a UNIX socket's port means nothing. */
    private static boolean same(Endpoint a, Endpoint b) {
        return a.toString().equals(b.toString());
    }
}
