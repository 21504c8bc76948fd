package org.flexnbd.upstream;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.ClientHandshake;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/** Opens a connection to the upstream and negotiates, asking for everything the proxy can relay. */
final class Connector {
    static final List<String> META_CONTEXTS = List.of("base:allocation");

    private final Endpoint endpoint;
    private final String exportName;
    private final Duration timeout;
    private final ScheduledExecutorService timer;

    Connector(Endpoint endpoint, String exportName, Duration timeout, ScheduledExecutorService timer) {
        this.endpoint = endpoint;
        this.exportName = exportName;
        this.timeout = timeout;
        this.timer = timer;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    Connection connect() throws IOException {
        return connect(timeout);
    }

    /** One attempt: connect and handshake within {@code limit}, or throw with the reason. */
    Connection connect(Duration limit) throws IOException {
        SocketChannel socket = endpoint.open(limit);
        // A server that accepts and then says nothing would otherwise hold the handshake for ever.
        ScheduledFuture<?> guard = timer.schedule(() -> closeQuietly(socket), limit.toMillis(), TimeUnit.MILLISECONDS);
        try {
            ProgressChannel channel = new ProgressChannel(socket);
            WireInput in = new WireInput(channel, Connection.BUFFER, () -> { }, PayloadPool.shared());
            WireOutput out = new WireOutput(channel, Connection.BUFFER, true);
            UpstreamExport export = ClientHandshake.negotiate(in, out, exportName, META_CONTEXTS);
            if (!guard.cancel(false)) {
                throw new IOException("handshake took longer than " + limit.toSeconds() + " s");
            }
            return new Connection(channel, in, out, export);
        } catch (ClosedByInterruptException e) {
            guard.cancel(false);
            closeQuietly(socket);
            throw new InterruptedIOException("stopped during the handshake");
        } catch (AsynchronousCloseException e) {
            closeQuietly(socket);
            throw new IOException("handshake took longer than " + limit.toSeconds() + " s", e);
        } catch (IOException | RuntimeException e) {
            guard.cancel(false);
            closeQuietly(socket);
            throw e;
        }
    }

    private static void closeQuietly(SocketChannel socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing more to do for a socket we are abandoning
        }
    }
}
