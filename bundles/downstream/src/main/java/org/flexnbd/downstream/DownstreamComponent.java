package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystems;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Watchdog;
import org.flexnbd.protocol.service.Downstream;
import org.flexnbd.protocol.service.HandOverDesk;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.tls.TlsMemory;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * Listens for NBD clients and serves each in a {@link ClientSession}. The Upstream reference is optional, dynamic
 * and greedy (so method-injected, not constructor-injected): when the upstream bundle is updated, the listener and
 * its clients stay, and the sessions move their unanswered requests to the new service.
 */
@Component(configurationPid = "org.flexnbd.downstream", configurationPolicy = ConfigurationPolicy.REQUIRE,
        service = Downstream.class, immediate = true)
@Designate(ocd = DownstreamConfig.class)
public final class DownstreamComponent implements Downstream, SessionHost {
    private static final Logger LOG = Logger.getLogger(DownstreamComponent.class.getName());

    private final ListenAddress address;
    private final String handshake;
    private final int maxClients;
    private final long drainMillis;
    private final ClientLimits limits;
    private Watchdog watchdog;
    private final int readAheadBytes;
    private final PayloadBudget budget;
    private final ClientMemory memory;
    /** The clients served, each with the place it holds. */
    private final Map<ClientSession, ClientMemory.Place> placed = new ConcurrentHashMap<>();
    private final Set<ClientSession> sessions = Collections.unmodifiableSet(placed.keySet());
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicInteger clientNumbers = new AtomicInteger();
    private final ServerSocketChannel server;
    private final IOException bindFailure;
    private final ClientTls tls;
    private final ClientAdmission admission;
    private volatile Upstream upstream;
    /** What an upstream service that went leaves for the next one: it outlives this listener too. */
    private final HandOverDesk desk = HandOverDesk.shared();
    private volatile boolean stopping;
    private final UpstreamSwitch<ClientSession> upstreamSwitch = new UpstreamSwitch<>(sessions, ClientSession::peer);

    @Activate
    public DownstreamComponent(DownstreamConfig config) {
        this.address = new ListenAddress(config.address(), config.port(), config.socketMode(), config.socketGroup());
        this.handshake = config.handshake();
        this.maxClients = Math.max(1, config.maxClients());
        this.drainMillis = config.drainSeconds() * 1000L;
        this.limits = ClientLimits.of(config);
        if (config.cacheBytes() > 0 && maxClients > 1) {
            // Another client's write would leave this one's kept data stale.
            LOG.warning("the read-ahead cache is off: it serves one client only, and --max-clients is " + maxClients);
        }
        this.readAheadBytes = maxClients > 1 ? 0 : Math.max(0, config.cacheBytes());
        this.budget = PayloadBudget.forClients(config.bufferBytes(), maxClients, Nbd.MAX_PAYLOAD);
        ServerSocketChannel bound = null;
        IOException failure = null;
        ClientTls clientTls = ClientTls.OFF;
        try {
            clientTls = ClientTls.of(config.tls(), config.tlsCertificates(), config.tlsVerifyPeer(),
                    config.tlsPeerNames(), config.tlsPsk());
        } catch (IOException | IllegalArgumentException e) {
            // Fail closed: a listener meant to be encrypted never serves in plain text instead.
            failure = new IOException("client TLS: " + e.getMessage(), e);
            LOG.severe("not listening on " + address + ": " + failure.getMessage());
        }
        this.tls = clientTls;
        this.memory = new ClientMemory(maxClients, budget.limit(), Runtime.getRuntime().maxMemory(),
                PayloadPool.memoryLimit(), clientTls.memory());
        AllowList allow = null;
        try {
            allow = allowList(config.allow(), address);
            bound = failure == null ? address.bind() : null;
        } catch (IOException e) {
            failure = e;
            LOG.severe("cannot listen on " + address + ": " + e.getMessage());
        }
        this.admission = allow == null ? null : new ClientAdmission(allow, address.isUnix());
        this.server = bound;
        this.bindFailure = failure;
        if (bound != null) {
            Thread acceptor = new Thread(this::accept, "downstream-accept");
            acceptor.setDaemon(true);
            acceptor.start();
            watchdog = Watchdog.start("client-watchdog", limits.watchStepMillis(), this::watchClients);
            LOG.info("listening on " + address);
        }
    }

    /**
     * The allow setting, read once: a malformed entry is a configuration error, and the listener does not open (a
     * list that cannot be read must not let everyone in). A list none of whose entries this listener's clients can
     * match refuses them all: legal, but surely not meant, so it is said at once.
     */
    private static AllowList allowList(String text, ListenAddress address) throws IOException {
        AllowList allow;
        try {
            allow = AllowList.parse(text, FileSystems.getDefault().getUserPrincipalLookupService());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage());
        }
        if (!allow.letsAnyoneIn(address.isUnix())) {
            LOG.severe("allow=" + allow + " has no " + (address.isUnix() ? "uid: or gid:" : "address")
                    + " entry, the only kind a client of " + address + " can match: every client will be refused");
        }
        return allow;
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindUpstream(Upstream u) {
        Upstream before = upstream;
        if (before != null) {
            desk.leave(List.of(), before.handOverTarget()); // it is being replaced while still bound
        }
        desk.handTo(u);
        u.connectNow(); // where the target says, writing what it took over first
        upstream = u;
        upstreamSwitch.moveAll("move to the new upstream service", s -> s.moveTo(u));
    }

    void unbindUpstream(Upstream u) {
        boolean wasBound = upstream == u;
        if (wasBound) {
            upstream = null;
        }
        upstreamSwitch.moveAll("leave the upstream service that went away", s -> s.upstreamGone(u));
        if (stopping) {
            // SCR unbinds after deactivate(): it is the listener that goes. u keeps its journal and its target, or,
            // if it is going too, leaves them on the desk itself.
            return;
        }
        // When it was not the one bound, bindUpstream took its target as the service after it came.
        desk.leave(u.handOverUnflushed(), wasBound ? u.handOverTarget() : null);
        Upstream next = upstream;
        if (next != null) { // a service bound before this one went: it takes them now
            desk.handTo(next);
        }
    }

    /**
     * The watchdog's round: closes the clients that have stopped taking their replies, or overrun their handshake or
     * a WRITE's payload. Its failure policy is {@link Watchdog}'s: a failed round is logged (E) and the next comes as
     * usual, so the limits hold as long as the listener runs.
     */
    private void watchClients() {
        long now = System.nanoTime();
        for (ClientSession s : sessions) {
            s.dropIfStalled(now, limits.clientNanos());
        }
    }

    /**
     * Its failure policy: a failure to accept or to start a client (a full file table, a heap or a thread that
     * cannot be had) is logged (E), that client closed and its place given back, and accepting goes on after a
     * pause that grows to a second while failures follow each other: the clients already served are not touched,
     * and the listener serves again as soon as the cause is gone. Only the closing of the listening socket ends it.
     * <p>
     * A client is accepted, asked about ({@link ClientAdmission}), and only then waits for a place: so a refused
     * client is closed at once even while every place is taken. An admitted client waiting for a place is held
     * unanswered here, the ones after it in the listen backlog, as before.
     */
    private void accept() {
        AcceptPause pause = new AcceptPause();
        while (!stopping) {
            SocketChannel client = null;
            ClientSession session = null;
            ClientMemory.Place place = null;
            try {
                client = server.accept();
                // Asked before a place is taken: a refused client neither waits for one nor holds one.
                if (!admission.admits(client)) {
                    closeQuietly(client);
                    continue;
                }
                Upstream u = upstream;
                place = memory.take(u == null ? TlsMemory.NONE : u.tlsMemory());
                if (stopping) {
                    closeQuietly(client);
                    place.release();
                    return;
                }
                if (!address.isUnix()) {
                    client.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
                }
                int number = clientNumbers.incrementAndGet();
                String peer = address.isUnix() ? "unix-client-" + number
                        : String.valueOf(client.getRemoteAddress()).replaceFirst("^/", "");
                session = new ClientSession(client, peer, this);
                placed.put(session, place);
                Thread t = new Thread(session, "client-" + number);
                t.setDaemon(true);
                t.start();
                pause.reset();
            } catch (ClosedChannelException e) {
                return;
            } catch (InterruptedException e) {
                closeQuietly(client);
                return;
            } catch (Throwable e) { // an Error too (OutOfMemoryError, a thread refused): this thread must go on
                if (session != null) {
                    session.abandon(); // gives its place back, through ended()
                }
                if (place != null) {
                    place.release(); // once only: if abandon() did not get as far
                }
                closeQuietly(client);
                if (stopping) {
                    return;
                }
                long millis = pause.next();
                LOG.log(Level.SEVERE, "cannot accept or start a client; accepting again in " + millis + " ms", e);
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException stop) {
                    return;
                }
            }
        }
    }

    private static void closeQuietly(SocketChannel client) {
        if (client != null) {
            try {
                client.close();
            } catch (IOException ignored) {
                // it was never served
            }
        }
    }

    @Override
    public Upstream upstream() {
        return upstream;
    }

    @Override
    public PayloadBudget budget() {
        return budget;
    }

    @Override
    public ClientLimits limits() {
        return limits;
    }

    @Override
    public ClientTls tls() {
        return tls;
    }

    @Override
    public String handshake() {
        return handshake;
    }

    @Override
    public boolean multiConnAllowed() {
        return maxClients > 1;
    }

    @Override
    public int readAheadBytes() {
        return readAheadBytes;
    }

    @Override
    public void relayed(long payloadBytes) {
        requests.incrementAndGet();
        bytes.addAndGet(payloadBytes);
    }

    @Override
    public void ended(ClientSession session) {
        ClientMemory.Place place = placed.remove(session);
        if (place != null) {
            place.release();
        }
    }

    @Override
    public String listenAddress() throws IOException {
        if (bindFailure != null) {
            throw bindFailure;
        }
        return address.toString();
    }

    @Override
    public List<String> clientAddresses() {
        List<String> peers = new ArrayList<>();
        for (ClientSession s : sessions) {
            peers.add(s.peer());
        }
        return peers;
    }

    @Override
    public List<String> clientTls() {
        List<String> states = new ArrayList<>();
        for (ClientSession s : sessions) {
            states.add(s.peer() + " " + s.tlsState());
        }
        return states;
    }

    @Override
    public long requestsRelayed() {
        return requests.get();
    }

    @Override
    public long bytesRelayed() {
        return bytes.get();
    }

    @Deactivate
    void deactivate() {
        stopping = true;
        if (watchdog != null) {
            watchdog.stop();
        }
        if (server != null) {
            try {
                server.close();
            } catch (IOException ignored) {
                // no more clients either way
            }
            address.unbind();
        }
        if (admission != null) {
            admission.close();
        }
        drain();
        upstreamSwitch.stop();
    }

    /**
     * Every client stops being read at once and drains on its own thread, so the bound is for all of them together:
     * what is in flight finishes and DISCONNECT goes upstream; whoever is not done by the bound is closed.
     */
    private void drain() {
        long deadline = System.currentTimeMillis() + drainMillis;
        for (ClientSession s : List.copyOf(sessions)) {
            s.stopReading(deadline);
        }
        try {
            while (!sessions.isEmpty() && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (ClientSession s : List.copyOf(sessions)) {
            s.forceClose();
        }
    }
}
