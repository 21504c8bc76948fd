package org.flexnbd.protocol.service;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.tls.TlsMemory;

/**
 * The upstream NBD server, as the proxy's clients need it: connection loss is hidden. A request admitted to the
 * {@link RequestLedger} of an {@link UpstreamSession} is answered there with the upstream's reply, however many
 * reconnects that takes.
 */
public interface Upstream {

    /** Waits for the first connection and handshake; throws with the reason when it could not be made in time. */
    UpstreamExport awaitReady(Duration timeout) throws IOException, InterruptedException;

    /**
     * Takes an upstream connection for one client: an idle one, or a new one. From then on the connection sends
     * what {@code ledger} queues and gives it the replies; it takes over from whatever connection worked for the
     * ledger before (every request in flight there is sent again here).
     */
    UpstreamSession open(RequestLedger ledger) throws IOException, InterruptedException;

    /**
     * What each upstream connection's TLS holds for its life ({@link TlsMemory#NONE} in plain text): every client
     * has a connection of its own, so a client's place counts it.
     */
    default TlsMemory tlsMemory() {
        return TlsMemory.NONE;
    }

    /** A snapshot of the connection state, for management. */
    UpstreamStatus status();

    /** Drops every upstream connection and reconnects; requests in flight are retransmitted. */
    void reconnect();

    /**
     * Moves to another upstream server (a UNIX socket path as {@code address}, with port 0): it must serve the same
     * export, checked as after a reconnect; then every connection moves, retransmitting what is in flight. Throws,
     * with the reason, and stays where it was when the new server cannot be reached or serves something else.
     */
    void retarget(String address, int port) throws IOException;

    /**
     * This service is being replaced (its configuration changed, its bundle is updated): where {@link #retarget}
     * moved it away from its configured server, or null when it is there, for the next one ({@link #adoptTarget}),
     * so that a retarget outlives the service. A retarget still under way here fails from now on, with the reason,
     * rather than moving a service nobody uses. May be asked more than once.
     */
    default UpstreamTarget handOverTarget() {
        return null;
    }

    /**
     * The service before this one was retargeted: this one connects there too, unless its configuration names
     * another server than the one {@code target} replaced (an operator's edit of the address is the later choice), or
     * it was retargeted itself since it started (that is later too). It connects to nothing itself: called before any
     * client comes here, it has no connection yet; connections it has are dropped and made again there.
     */
    default void adoptTarget(UpstreamTarget target) {
    }

    /**
     * Starts a connection in the background when the service has none (a service that replaced another, with no
     * client yet), and returns at once: its state is then what the upstream's is, and writes it took over are written
     * before any client comes. That connection serves the next client.
     */
    default void connectNow() {
    }

    /**
     * This service is going away (its configuration changed, its bundle is updated): after a FLUSH of its own, for
     * a short while, the writes it acknowledged that the upstream may still lose (the upstream is down), in order,
     * each with a reference for the caller, who hands them to the next service ({@link #adoptUnflushed}). None
     * without a write journal.
     */
    default List<Request> handOverUnflushed() {
        return List.of();
    }

    /**
     * The writes the service before this one handed over ({@link #handOverUnflushed}), with their references: written
     * first, in their order, before anything else, and kept until a FLUSH covers them.
     */
    default void adoptUnflushed(List<Request> writes) {
        writes.forEach(Request::release);
    }
}
