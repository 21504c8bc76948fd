package org.flexnbd.protocol.service;

import java.util.ArrayList;
import java.util.List;

import org.flexnbd.protocol.Request;

/**
 * What an upstream service that goes away leaves for the next one: the acknowledged writes the upstream may still
 * lose (it is down, so they could not be flushed), in order, each with its reference, and where a retarget() moved
 * it. The next service takes both before it serves anybody: it writes them first, and connects where the operator
 * moved the last.
 * <p>
 * One for the process ({@link #shared()}): state that outlives the bundles that hand it on, which a hot update of a
 * release replaces together. It lived in the listener, and a release deployed during an outage (the listener's and
 * the upstream's bundles at once) lost every acknowledged write that was waiting, and the retarget with them (seen).
 * An update of the protocol bundle refreshes every bundle, a restart in all but name that drops what waits here
 * as a stop of the proxy would; otherwise this lives as long as the appliance. No I/O.
 */
public final class HandOverDesk {
    private static final HandOverDesk SHARED = new HandOverDesk();

    private final List<Request> writes = new ArrayList<>();
    private UpstreamTarget target;

    private HandOverDesk() {
    }

    public static HandOverDesk shared() {
        return SHARED;
    }

    /**
     * {@code writes} (after any already waiting) and {@code target} (when not null, in place of one waiting) wait for
     * the next service; the desk holds the writes' references.
     */
    public synchronized void leave(List<Request> writes, UpstreamTarget target) {
        this.writes.addAll(writes);
        if (target != null) {
            this.target = target;
        }
    }

    /** {@code next} takes what waits: the target first, so that the writes go where it says. */
    public void handTo(Upstream next) {
        List<Request> w;
        UpstreamTarget t;
        synchronized (this) {
            w = List.copyOf(writes);
            writes.clear();
            t = target;
            target = null;
        }
        if (t != null) {
            try {
                next.adoptTarget(t);
            } catch (RuntimeException e) {
                putBack(w, t); // not to a service whose server is unknown: they wait for the next
                throw e;
            }
        }
        if (!w.isEmpty()) {
            next.adoptUnflushed(w);
        }
    }

    /** What {@link #handTo} took and could not hand over: ahead of anything left since, as it is older. */
    private synchronized void putBack(List<Request> older, UpstreamTarget t) {
        writes.addAll(0, older);
        if (target == null) {
            target = t;
        }
    }
}
