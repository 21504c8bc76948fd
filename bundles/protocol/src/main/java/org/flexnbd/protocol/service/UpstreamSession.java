package org.flexnbd.protocol.service;

import org.flexnbd.protocol.loop.EventLoop;

import org.flexnbd.protocol.UpstreamExport;

/** One client's upstream connection, working for the client's {@link RequestLedger}. */
public interface UpstreamSession extends AutoCloseable {

    /** The export as negotiated on this session's connection (meta context ids included). */
    UpstreamExport export();

    /**
     * The ledger has new work (requests admitted, the client's DISCONNECT): send it. It may be written to the
     * upstream's socket on the caller's thread. With {@code more}, the caller has another request at hand and the
     * socket need not be flushed yet; a caller that then waits for anything must {@link #flush()} first.
     */
    void send(boolean more);

    /** Sends what earlier calls with {@code more} left buffered. */
    void flush();

    /**
     * The loop the session's upstream connection is served on. The client's socket joins it, so that requests and
     * replies go both ways on one thread; {@link #send}, {@link #flush} and {@link #written} are called there.
     */
    EventLoop loop();

    /** The client has written replies the ledger had: the upstream's replies may be read again if they waited. */
    void written();

    /**
     * Whether the upstream's socket has more requests waiting for it than it takes: the client's next requests
     * then wait in the client's socket, not in memory. The ledger is {@link RequestLedger#announce announced} when
     * that is over. On the loop.
     */
    boolean congested();

    /**
     * The client has gone, or moved to another session: the connection goes back to serve the next client (replaced
     * first if late replies may still come on it). A DISCONNECT the ledger still holds is sent first.
     */
    @Override
    void close();
}
