package org.flexnbd.upstream;

import java.nio.channels.SocketChannel;
import java.util.Map;

import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.tls.StartTlsChannel;

/** A connection over a plain socket, as the connector hands it on after the handshake: for tests playing the server. */
final class PlainConnections {
    private PlainConnections() {
    }

    /** Over {@code socket}, to a 1 MiB export with transmission flags {@code flags}. */
    static Connection over(SocketChannel socket, int flags) {
        ProgressChannel channel = new ProgressChannel(socket);
        StartTlsChannel wire = new StartTlsChannel(channel);
        UpstreamExport export = new UpstreamExport(ExportInfo.of("", 1 << 20, flags), false, false, Map.of());
        return new Connection(channel, wire, new WireInput(wire, Connection.BUFFER, () -> { }, PayloadPool.shared()),
                new WireOutput(wire, Connection.BUFFER, true), export);
    }
}
