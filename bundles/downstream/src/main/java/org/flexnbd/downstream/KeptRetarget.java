package org.flexnbd.downstream;

import java.util.logging.Logger;

import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamTarget;

/**
 * Where an operator's retarget() moved the upstream, between one upstream service and the next. A configuration edit
 * or a hot update of the upstream bundle replaces the service, and the new one starts at the configured address: back
 * on the server the operator moved away from, perhaps a stale copy of the export that then serves reads (seen: a
 * retarget, an edit of the timeout, and reads from the old server). The listener outlives both services, so the
 * target waits here.
 */
final class KeptRetarget {
    private static final Logger LOG = Logger.getLogger(KeptRetarget.class.getName());

    private UpstreamTarget kept;

    /** {@code going} is replaced: where it was moved, if anywhere, is what the next one adopts. */
    void takeFrom(Upstream going) {
        UpstreamTarget target = going.handOverTarget();
        synchronized (this) {
            kept = target;
        }
    }

    /** {@code next} goes where the one before was moved, before it serves anybody. */
    void handTo(Upstream next) {
        UpstreamTarget target;
        synchronized (this) {
            target = kept;
            kept = null;
        }
        if (target != null) {
            next.adoptTarget(target);
        }
    }

    /** The listener stops with a target no service took: the next one starts at its configured server. */
    void drop() {
        UpstreamTarget target;
        synchronized (this) {
            target = kept;
            kept = null;
        }
        if (target != null) {
            LOG.warning("stopping with a retarget to upstream " + target.address()
                    + (target.address().startsWith("/") ? "" : ":" + target.port()) + " that no upstream connector"
                    + " took over; the next one connects to the configured " + target.replaced());
        }
    }
}
