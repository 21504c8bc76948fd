package org.flexnbd.protocol.service;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;

/** One client's upstream connection. Not for DISCONNECT requests: see {@link #disconnect(Request)}. */
public interface UpstreamSession extends AutoCloseable {

    /** The export as negotiated on this session's connection (meta context ids included). */
    UpstreamExport export();

    /** Changes whenever this session's connection is replaced: what was read before may have changed since. */
    long connectionGeneration();

    /** Sends the request, and sends it again after every reconnect until a complete reply has come. */
    void submit(Request request);

    /**
     * The client sent NBD_CMD_DISC and has no reply outstanding: pass the request on as it came; the connection is
     * then replaced by a fresh one for the next client.
     */
    void disconnect(Request disc);

    /** The client has gone: the connection goes back to serve the next one (late replies are dropped first). */
    @Override
    void close();
}
