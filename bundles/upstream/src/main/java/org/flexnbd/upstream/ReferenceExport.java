package org.flexnbd.upstream;

import java.util.HashMap;
import java.util.Map;

import org.flexnbd.protocol.UpstreamExport;

/**
 * The export as the first connection found it. Clients negotiate against it, so every later connection must match
 * it; meta context ids, which a server may number differently each time, are mapped back to its ids.
 */
final class ReferenceExport {
    private UpstreamExport first;
    private boolean closed;

    synchronized UpstreamExport get() {
        return first;
    }

    /** Waits until a first connection has set it; null after the wait, or once the connector stops. */
    synchronized UpstreamExport await(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (first == null && !closed) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                return null;
            }
            wait(left);
        }
        return first;
    }

    /**
     * The connector stops: nobody waits any longer for its first connection. A client's move to the connector that
     * follows waited in line behind a move to this one for as long as the connect timeout (15 s) when the upstream
     * was down through two edits of its configuration.
     */
    synchronized void close() {
        closed = true;
        notifyAll();
    }

    synchronized boolean isClosed() {
        return closed;
    }

    /** Null if a connection that negotiated {@code e} can serve the clients, else what differs (a first one sets it). */
    synchronized String check(UpstreamExport e) {
        if (first == null) {
            first = e;
            notifyAll();
            return null;
        }
        return first.differenceFrom(e);
    }

    /** The connection's context id to the reference's id for the same context, where they differ. */
    synchronized Map<Integer, Integer> contextIdMap(UpstreamExport e) {
        Map<Integer, Integer> map = new HashMap<>();
        e.metaContexts().forEach((name, id) -> {
            Integer ours = first.metaContexts().get(name);
            if (ours != null && !ours.equals(id)) {
                map.put(id, ours);
            }
        });
        return map;
    }
}
