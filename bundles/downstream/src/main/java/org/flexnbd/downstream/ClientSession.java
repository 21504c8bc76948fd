package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.ServerHandshake;
import org.flexnbd.protocol.ServerOffer;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.tls.StartTlsChannel;
import org.flexnbd.protocol.tls.SecureChannel;
import org.flexnbd.protocol.tls.TlsMode;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamSession;

/**
 * One client, from hello to goodbye: the I/O around its {@link RequestLedger}. Its own thread waits for an upstream
 * session and runs the handshake; then the client's {@link ClientTransmission} joins the loop of the upstream link
 * serving it, where requests and replies go on one thread, and the client's thread ends. The ledger outlives any
 * one upstream session: when the Upstream service itself is replaced (a hot update of its bundle), the new session
 * takes the ledger over and sends again whatever was in flight, and the client moves to its loop.
 */
final class ClientSession implements Runnable {
    private static final Logger LOG = Logger.getLogger(ClientSession.class.getName());
    /**
     * Small: a payload larger than half of it bypasses it (WireInput, WireOutput), so it holds headers and small
     * payloads only, and hundreds of clients must fit the heap beside the payload budget (see {@link ClientMemory}).
     */
    static final int BUFFER = 16 * 1024;

    private final SocketChannel socket;
    /** The socket, or TLS over it once the client has asked for STARTTLS. */
    private final StartTlsChannel wire;
    private final String peer;
    private final SessionHost host;
    private final ReadClock readClock = new ReadClock();
    private final PayloadBudget.Share share;
    private final RequestLedger ledger;
    private final ReadAhead readAhead;
    private final RateLimitedWarnings warnings;

    private final Object lock = new Object();
    private final ReentrantLock switching = new ReentrantLock();
    /** Why the last try to open an upstream session failed, for the log; written under {@link #switching}. */
    private volatile String lastOpenFailure = "";
    private UpstreamSession current;
    private Upstream currentService;
    private UpstreamExport upstreamExport;
    private volatile ReplyTranslation translation;
    /** From the end of the handshake on. */
    private volatile ClientTransmission transmission;
    private volatile boolean negotiated;
    private boolean closing;

    ClientSession(SocketChannel socket, String peer, SessionHost host) {
        this.socket = socket;
        this.peer = peer;
        this.host = host;
        this.wire = new StartTlsChannel(socket);
        this.readAhead = new ReadAhead(host.readAheadBytes());
        this.warnings = new RateLimitedWarnings(LOG, "client " + peer);
        this.share = host.budget().join();
        this.ledger = new RequestLedger(share::release);
    }

    String peer() {
        return peer;
    }

    /**
     * Closes the client if a write to it has waited longer than {@code limitNanos}: a client that has stopped
     * reading would otherwise hold its place, its share of the payload budget and its upstream link for ever.
     */
    void dropIfStalled(long nowNanos, long limitNanos) {
        ClientTransmission t = transmission;
        long waited = t == null ? 0 : t.stalledNanos(nowNanos);
        if (limitNanos > 0 && waited > limitNanos) {
            LOG.warning("client " + peer + " has taken no reply for " + waited / 1_000_000_000L
                    + " s; closing it");
            closeSocket();
        }
        String overdue = readClock.overdue(nowNanos);
        if (overdue != null) {
            LOG.warning("client " + peer + ": " + overdue + "; closing it");
            closeSocket();
        }
    }

    @Override
    public void run() {
        boolean handedOver = false;
        try {
            UpstreamExport export = awaitUpstream();
            if (export == null) {
                return;
            }
            readClock.start("handshake", host.limits().handshakeNanos());
            // The handshake's buffers are the client thread's alone: once it has handed the client over, they go
            // with the thread, and a client served for days holds only its transmission's.
            WireInput in = new WireInput(wire, BUFFER, () -> { }, PayloadPool.shared());
            WireOutput out = new WireOutput(wire, BUFFER, true);
            ClientAgreement agreement = handshake(export, in, out);
            readClock.stop();
            if (agreement == null) {
                LOG.info("client " + peer + " aborted the handshake");
                return;
            }
            translation = new ReplyTranslation(agreement, export);
            negotiated = true;
            LOG.info("client " + peer + " connected (" + (agreement.oldstyle() ? "oldstyle" : "newstyle")
                    + (agreement.structuredReplies() ? ", structured replies" : "") + tlsNote() + ")");
            handedOver = handOver(export, in.takeBuffered());
        } catch (NbdException e) {
            LOG.warning("client " + peer + ": " + e.getMessage() + "; closing");
        } catch (IOException e) {
            LOG.info("client " + peer + " gone: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "client " + peer + ": unexpected failure", e);
        } finally {
            if (!handedOver) {
                end();
            }
            PayloadPool.releaseThreadCache();
        }
    }

    /**
     * The transmission phase goes to the loop of the upstream session. Between two upstream services (an edit of the
     * upstream's configuration, a hot update) it waits for the next, as a client in its transmission would. False
     * when the session is closing, or no service came within a minute (logged).
     */
    private boolean handOver(UpstreamExport export, ByteBuffer early) throws InterruptedException {
        ClientTransmission t = new ClientTransmission(peer, socket, wire, ledger, share, readAhead, translation,
                warnings, readClock, host.limits().payloadNanos(), this::currentSession, export.export().maxBlock(),
                export.export().size(), host::relayed, this::end);
        while (true) {
            synchronized (lock) {
                if (closing) {
                    return false;
                }
                UpstreamSession to = current;
                if (to != null) {
                    // Under the lock: a switch to another service sees the transmission, started, and moves it.
                    transmission = t;
                    t.start(to.loop(), early);
                    return true;
                }
            }
            if (awaitUpstream() == null) {
                return false;
            }
        }
    }

    private UpstreamSession currentSession() {
        synchronized (lock) {
            return current;
        }
    }

    /**
     * Opens a session on the Upstream service, waiting while there is none, for a minute at most (and one connect
     * timeout of a try begun before it ends); null if the session is closing. A move under way on the switch's thread
     * is not waited for behind its lock: its outcome is.
     */
    private UpstreamExport awaitUpstream() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        boolean told = false;
        while (System.nanoTime() < deadline) {
            Upstream u = host.upstream();
            if (u != null && !upstreamArrived(u, false) && !told) {
                LOG.warning("client " + peer + ": cannot open an upstream session yet: " + lastOpenFailure);
                told = true;
            }
            synchronized (lock) {
                if (closing) {
                    return null;
                }
                if (current != null) {
                    upstreamExport = current.export();
                    return upstreamExport;
                }
                lock.wait(100);
            }
        }
        LOG.warning("client " + peer + ": no upstream for a minute; closing");
        return null;
    }

    private ClientAgreement handshake(UpstreamExport upstream, WireInput in, WireOutput out) throws IOException {
        ExportInfo export = upstream.export();
        int flags = export.transmissionFlags();
        if (!host.multiConnAllowed()) {
            flags &= ~Nbd.FLAG_CAN_MULTI_CONN;
        }
        export = export.withTransmissionFlags(flags);
        String style = host.handshake();
        boolean oldstyle = style.equals("oldstyle") || (style.equals("same") && upstream.oldstyle());
        ClientTls tls = host.tls();
        if (oldstyle) {
            if (tls.mode() == TlsMode.REQUIRE) {
                throw NbdException.fatal("TLS is required and the oldstyle handshake has none: not served");
            }
            return ServerHandshake.oldstyle(out, export);
        }
        ServerOffer offer = new ServerOffer(export, upstream.structuredReplies(),
                List.copyOf(upstream.metaContexts().keySet()));
        ClientAgreement a = ServerHandshake.newstyle(in, out, offer, tls.mode(), () -> wire.start(tls::handshake));
        out.flush();
        return a;
    }

    /** For the log: the TLS agreed and the client certificate's subject, or nothing in plain text. */
    private String tlsNote() {
        SecureChannel t = wire.tls();
        if (t == null) {
            return "";
        }
        String subject = t.peerSubject();
        return ", " + t.describe() + (subject.isEmpty() ? "" : ", certificate " + subject);
    }

    /**
     * What management shows of this client's TLS: "negotiating" until its handshake is over, then "plain", or the
     * protocol, cipher and certificate subject.
     */
    String tlsState() {
        if (!negotiated) {
            return "negotiating";
        }
        SecureChannel t = wire.tls();
        return t == null ? "plain" : tlsNote().substring(2);
    }

    /**
     * An Upstream service was bound: the client moves to it, which sends again every request in flight, and keeps
     * trying while the service cannot reach its upstream (an edit or a hot update during an outage longer than the
     * connect timeout), as long as the service is the one bound and the client is there. Giving up after one try
     * stranded a client in its transmission with no upstream session at all, its requests never sent.
     */
    void moveTo(Upstream u) {
        boolean told = false;
        while (!upstreamArrived(u, true)) {
            synchronized (lock) {
                if (closing || host.upstream() != u) {
                    return;
                }
            }
            if (!told) {
                LOG.warning("client " + peer + ": cannot open an upstream session yet: " + lastOpenFailure
                        + "; trying again until the upstream is back");
                told = true;
            }
            try {
                Thread.sleep(100); // a service that refuses at once is not asked in a tight loop
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        boolean moved;
        synchronized (lock) {
            moved = currentService == u && !closing; // not a stop, a newer service or the client gone
        }
        if (told && moved) {
            LOG.info("client " + peer + ": has an upstream session again");
        }
    }

    /**
     * One try to move to {@code u}: false when its session could not be opened ({@link #lastOpenFailure} says why),
     * true when moved or when there was nothing to do; without {@code wait}, also when another thread's try is under
     * way.
     */
    private boolean upstreamArrived(Upstream u, boolean wait) {
        // One switch at a time: the client's own thread and the switch's may both bring the same service, and only
        // one of them may open a session on it (a second would take another upstream connection).
        if (wait) {
            switching.lock();
        } else if (!switching.tryLock()) {
            return true;
        }
        try {
            synchronized (lock) {
                if (closing || currentService == u) {
                    return true;
                }
            }
            return switchTo(u);
        } finally {
            switching.unlock();
        }
    }

    private boolean switchTo(Upstream u) {
        UpstreamSession fresh;
        try {
            fresh = u.open(ledger); // from here on only the fresh session sends for the ledger
        } catch (IOException e) {
            lastOpenFailure = e.getMessage();
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
        readAhead.forget();
        UpstreamSession old;
        synchronized (lock) {
            if (closing || host.upstream() != u) {
                fresh.close(); // a newer service was bound meanwhile: its own switch follows
                return true;
            }
            if (upstreamExport != null) {
                String change = upstreamExport.differenceFrom(fresh.export());
                if (change != null) {
                    LOG.severe("client " + peer + ": the new upstream service serves a different export (" + change
                            + ")");
                }
            }
            old = current;
            current = fresh;
            currentService = u;
            lock.notifyAll();
        }
        ReplyTranslation t = translation;
        if (t != null) {
            t.upstreamChanged(fresh.export());
        }
        ClientTransmission moving = transmission;
        if (moving != null) {
            moving.moveTo(fresh.loop());
        }
        int resent = ledger.queued();
        // A request admitted meanwhile may have been handed to the old session, which no longer sends for the ledger.
        fresh.send(false);
        if (old != null) {
            old.close();
        }
        if (t != null) {
            LOG.info("client " + peer + ": moved to a new upstream service; resubmitted " + resent + " requests");
        }
        return true;
    }

    /** Called when the Upstream service goes away: requests stay in the ledger until another comes. */
    void upstreamGone(Upstream u) {
        UpstreamSession old;
        synchronized (lock) {
            if (currentService != u) {
                return;
            }
            old = current;
            current = null;
            currentService = null;
        }
        old.close();
    }

    /**
     * Stopping the proxy: no more requests are read (the input is shut, so the client's thread sees the end of it
     * after what was already read); the client's own thread lets what is in flight finish until
     * {@code deadlineMillis}, passes DISCONNECT on and ends. All clients drain at once, each on its own thread.
     */
    void stopReading(long deadlineMillis) {
        ClientTransmission t = transmission;
        if (t != null) {
            t.stopReading(deadlineMillis);
        } else {
            closeSocket(); // still in its handshake: nothing to drain
        }
    }

    /** Stopping the proxy, after the drain bound: whatever is still in flight is dropped. */
    void forceClose() {
        synchronized (lock) {
            closing = true;
            lock.notifyAll();
        }
        ClientTransmission t = transmission;
        if (t != null) { // before it there is nothing in flight
            t.warnUnanswered("closed at the drain bound", ledger.inFlight());
        }
        ledger.clientLeft();
        closeSocket();
    }

    /** A session whose thread could not be started: it gives back what it took. */
    void abandon() {
        end();
    }

    private void end() {
        warnings.close();
        ledger.clientLeft(); // every payload, reply and budget byte goes back
        UpstreamSession s;
        synchronized (lock) {
            closing = true;
            s = current;
            current = null;
            currentService = null;
            lock.notifyAll();
        }
        share.leave();
        if (s != null) {
            s.close();
        }
        closeSocket(); // with TLS too: no close_notify (TlsChannel#close says why)
        host.ended(this);
    }

    private void closeSocket() {
        ClientTransmission t = transmission;
        if (t != null) {
            t.close(); // its loop lets it go, and ends the session
            return;
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // the client is gone either way
        }
    }
}
