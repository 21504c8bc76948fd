package org.flexnbd.protocol.service;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;

/** One client's upstream connection. Not for DISCONNECT requests: see {@link #disconnect(Request)}. */
public interface UpstreamSession extends AutoCloseable {

    /** The export as negotiated on this session's connection (meta context ids included). */
    UpstreamExport export();

    /** Changes whenever this session's connection is replaced: what was read before may have changed since. */
    long connectionGeneration();

    /**
     * Sends the request, and sends it again after every reconnect until a complete reply has come. It may be written
     * to the upstream's socket on the caller's thread. With {@code more}, the caller has another request at hand
     * and the socket need not be flushed yet; a caller that then waits for anything must {@link #flush()} first.
     * Requests submitted after the session is closed are dropped.
     */
    void submit(Request request, boolean more);

    /** Sends what earlier submissions with {@code more} left buffered. */
    void flush();

    /**
     * The client sent NBD_CMD_DISC and has no reply outstanding: pass the request on as it came; the connection is
     * then replaced by a fresh one for the next client.
     */
    void disconnect(Request disc);

    /** The client has gone: the connection goes back to serve the next one (late replies are dropped first). */
    @Override
    void close();
}
