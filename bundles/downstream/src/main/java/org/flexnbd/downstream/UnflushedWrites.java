package org.flexnbd.downstream;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.service.Upstream;

/**
 * Acknowledged writes the upstream may still lose, between one upstream service and the next. An upstream connector
 * that stops (a configuration change, a hot update of its bundle) while the upstream is down cannot make its write
 * journal durable; the journal dies with it, and an upstream that comes back without its write-back cache would
 * lack writes the clients were told were done (seen: a configuration edit during an outage, then a FLUSH that
 * succeeded on an export missing 64 acknowledged blocks). The listener outlives both services, so the writes wait
 * here, in order, and the next service writes them first.
 */
final class UnflushedWrites {
    private static final Logger LOG = Logger.getLogger(UnflushedWrites.class.getName());

    private final List<Request> waiting = new ArrayList<>();

    /** {@code gone} is going away: what it could not make durable waits here, after anything already waiting. */
    void takeFrom(Upstream gone) {
        List<Request> writes = gone.handOverUnflushed();
        synchronized (this) {
            waiting.addAll(writes);
        }
    }

    /** {@code next} takes every write waiting, oldest first, before it serves anybody. */
    void handTo(Upstream next) {
        List<Request> writes;
        synchronized (this) {
            if (waiting.isEmpty()) {
                return;
            }
            writes = List.copyOf(waiting);
            waiting.clear();
        }
        next.adoptUnflushed(writes);
    }

    /** The listener stops with writes no service took: they are as safe as the upstream's cache. */
    void dropAll() {
        List<Request> writes;
        synchronized (this) {
            writes = List.copyOf(waiting);
            waiting.clear();
        }
        if (!writes.isEmpty()) {
            LOG.warning("stopping with " + writes.size() + " acknowledged writes that no upstream connector took"
                    + " over; they are as safe as the upstream's cache");
            writes.forEach(Request::release);
        }
    }
}
