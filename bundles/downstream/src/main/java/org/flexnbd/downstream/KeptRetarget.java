package org.flexnbd.downstream;

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
    private UpstreamTarget kept;

    /** {@code going} is replaced: where it was moved, if anywhere, is what the next one adopts. */
    synchronized void takeFrom(Upstream going) {
        kept = going.handOverTarget();
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
}
