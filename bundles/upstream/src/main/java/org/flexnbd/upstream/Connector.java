package org.flexnbd.upstream;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.ClientHandshake;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.tls.StartTlsChannel;

/** Opens a connection to the upstream and negotiates, asking for everything the proxy can relay. */
final class Connector {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(Connector.class.getName());
    static final List<String> META_CONTEXTS = List.of("base:allocation");

    private final Endpoint endpoint;
    private final String exportName;
    private final UpstreamTls tls;
    private final Duration timeout;
    private final ScheduledExecutorService timer;

    Connector(Endpoint endpoint, String exportName, UpstreamTls tls, Duration timeout,
            ScheduledExecutorService timer) {
        this.endpoint = endpoint;
        this.exportName = exportName;
        this.tls = tls;
        this.timeout = timeout;
        this.timer = timer;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    /** The same upstream TLS and export at another address. */
    Connector at(Endpoint other) {
        return new Connector(other, exportName, tls, timeout, timer);
    }

    Connection connect() throws IOException {
        return connect(timeout);
    }

    /** One attempt: connect and handshake within {@code limit}, or throw with the reason. */
    Connection connect(Duration limit) throws IOException {
        tls.check();
        SocketChannel socket = endpoint.open(limit);
        // A server that accepts and then says nothing would otherwise hold the handshake for ever.
        ScheduledFuture<?> guard;
        try {
            guard = timer.schedule(() -> closeQuietly(socket), limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException stopped) {
            closeQuietly(socket);
            throw new IOException("upstream connector is stopping");
        }
        try {
            ProgressChannel channel = new ProgressChannel(socket);
            StartTlsChannel wire = new StartTlsChannel(channel);
            WireInput in = new WireInput(wire, Connection.BUFFER, () -> { }, PayloadPool.shared());
            WireOutput out = new WireOutput(wire, Connection.BUFFER, true);
            UpstreamExport export = ClientHandshake.negotiate(in, out, exportName, META_CONTEXTS, tls.mode(),
                    () -> wire.start(plain -> tls.handshake(plain, endpoint)));
            if (!guard.cancel(false)) {
                throw new IOException("handshake took longer than " + limit.toSeconds() + " s");
            }
            if (wire.tls() != null) {
                LOG.fine(() -> "upstream " + endpoint + ": " + wire.tls().describe() + ", certificate "
                        + wire.tls().peerSubject());
            }
            return new Connection(channel, wire, in, out, export);
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
