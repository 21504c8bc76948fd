package org.flexnbd.upstream;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.Watchdog;
import org.flexnbd.protocol.service.HandOverDesk;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamSession;
import org.flexnbd.protocol.service.UpstreamStatus;
import org.flexnbd.protocol.service.UpstreamTarget;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.protocol.tls.TlsMemory;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The {@link Upstream} service: a pool of {@link UpstreamLink}s, one per client being served, each kept for the next
 * client when its client leaves.
 */
@Component(configurationPid = "org.flexnbd.upstream", configurationPolicy = ConfigurationPolicy.REQUIRE,
        service = Upstream.class, immediate = true)
@Designate(ocd = UpstreamConfig.class)
public final class UpstreamComponent implements Upstream {
    private static final Logger LOG = Logger.getLogger(UpstreamComponent.class.getName());

    private final String exportName;
    private final ConnectorTarget target;
    private final HandOverDesk desk = HandOverDesk.shared();
    private final BundleContext context;
    private final ScheduledExecutorService timer;
    private final Watchdog watchdog;
    private final ReferenceExport reference = new ReferenceExport();
    private final Comeback comeback = new Comeback();
    private final Stats stats = new Stats();
    private final long maxDelayMillis;
    private final long connectMillis;
    private final WriteJournal journal;
    private final TlsMemory tlsMemory;

    private final ArrayDeque<UpstreamLink> idle = new ArrayDeque<>();
    private final List<UpstreamLink> links = new ArrayList<>();
    private final Object firstConnection = new Object();
    private IOException firstFailure;
    private boolean stopping;

    @Activate
    public UpstreamComponent(UpstreamConfig config, BundleContext context) {
        this.context = context;
        Endpoint endpoint = new Endpoint(config.address(), config.port(), config.bind());
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "upstream-connect-timer");
            t.setDaemon(true);
            return t;
        });
        this.connectMillis = Duration.ofSeconds(config.connectTimeoutSeconds()).toMillis();
        this.exportName = config.exportName();
        UpstreamTls tls = UpstreamTls.of(config.tls(), config.tlsCertificates(), config.tlsPsk(),
                config.tlsUsername(), endpoint.isUnix());
        if (tls.unreadable() != null) {
            LOG.severe(tls.unreadable().getMessage());
        }
        this.target = new ConnectorTarget(
                new Connector(endpoint, exportName, tls, Duration.ofMillis(connectMillis), timer));
        this.tlsMemory = tls.memory();
        this.maxDelayMillis = config.reconnectMaxDelayMillis();
        this.journal = new WriteJournal(config.journalBytes(), this::wakeLinks);
        long timeoutNanos = TimeUnit.SECONDS.toNanos(config.timeoutSeconds());
        this.watchdog = Watchdog.start("upstream-watchdog", 1000, () -> checkProgress(timeoutNanos));
    }

    @Override
    public TlsMemory tlsMemory() {
        return tlsMemory;
    }

    @Override
    public UpstreamExport awaitReady(Duration timeout) throws IOException, InterruptedException {
        // Its own lock: status() and open() must not wait while the first connection is being made.
        synchronized (firstConnection) {
            if (firstFailure != null) {
                throw firstFailure;
            }
            boolean none;
            synchronized (this) {
                none = reference.get() == null && links.isEmpty();
            }
            if (none) {
                // The first connection is one attempt, so that a proxy started against nothing fails at once.
                try {
                    Connection first = target.current().connect(timeout);
                    reference.check(first.export);
                    synchronized (this) {
                        newLink(first);
                    }
                } catch (IOException e) {
                    firstFailure = e;
                    throw e;
                }
            }
        }
        UpstreamExport e = reference.await(timeout.toMillis());
        if (e == null) {
            throw new IOException("no connection within " + timeout.toSeconds() + " s: " + stats.lastFailure());
        }
        return e;
    }

    @Override
    public UpstreamSession open(RequestLedger ledger) throws IOException, InterruptedException {
        UpstreamLink link;
        synchronized (this) {
            if (stopping) {
                throw new IOException("upstream connector is stopping");
            }
            link = idle.poll();
            if (link == null) {
                link = newLink(null);
                idle.remove(link);
            }
        }
        if (reference.await(connectMillis) == null) {
            returned(link); // never attached: the ledger stays with whatever served it before
            if (reference.isClosed()) {
                throw new IOException("upstream connector is stopping");
            }
            throw new IOException("upstream " + target.current().endpoint() + " not reachable: " + stats.lastFailure());
        }
        return link.attach(ledger);
    }

    @Override
    public synchronized void connectNow() {
        if (!stopping && links.isEmpty()) {
            newLink(null); // idle, connecting: the next client takes it
        }
    }

    private UpstreamLink newLink(Connection first) {
        String name = "upstream-" + (links.size() + 1);
        UpstreamLink[] self = new UpstreamLink[1];
        UpstreamLink link = new UpstreamLink(name, target::current, reference, stats, maxDelayMillis, first,
                () -> returned(self[0]), journal, this::lost, comeback);
        self[0] = link;
        links.add(link);
        idle.add(link);
        return link;
    }

    /**
     * A connection was lost while the upstream may have lost writes it acknowledged: every connection of that
     * journal epoch is replaced, so that nothing is sent until one of them has written the journal again.
     */
    private void lost(long epoch) {
        if (!journal.lost(epoch)) {
            return;
        }
        for (UpstreamLink l : allLinks()) {
            l.dropEpoch(epoch);
        }
    }

    /** The journal changed: links holding requests back may go on. */
    private void wakeLinks() {
        for (UpstreamLink l : allLinks()) {
            l.wake();
        }
    }

    private synchronized List<UpstreamLink> allLinks() {
        return List.copyOf(links);
    }

    private synchronized void returned(UpstreamLink link) {
        if (!stopping && !idle.contains(link)) {
            idle.addFirst(link);
        }
    }

    @Override
    public synchronized UpstreamStatus status() {
        String state = stopping ? "STOPPING" : "CONNECTED";
        int inFlight = 0;
        Connection shown = null;
        for (UpstreamLink l : links) {
            inFlight += l.inFlight();
            if (shown == null) {
                shown = l.current();
            }
            if (!stopping && !l.isConnected()) {
                state = "RECONNECTING";
            }
        }
        UpstreamExport e = reference.get();
        return new UpstreamStatus(state, target.current().endpoint().toString(), inFlight, stats.reconnects(),
                stats.retransmissions(), stats.lastFailure(), stats.lastFailureMillis(),
                e == null ? -1 : e.export().size(), e == null ? 0 : e.export().transmissionFlags(),
                journal.requests(), journal.bytes(), journal.replays(), shown == null ? "" : shown.tls(),
                shown == null ? "" : shown.peerSubject());
    }

    @Override
    public void reconnect() {
        List<UpstreamLink> all;
        synchronized (this) {
            all = List.copyOf(links);
        }
        LOG.warning("reconnect requested: dropping " + all.size() + " upstream connections");
        for (UpstreamLink l : all) {
            l.reconnect("reconnect requested");
        }
    }

    @Override
    public void retarget(String address, int port) throws IOException {
        Endpoint to = new Endpoint(address, port, target.configured().bind());
        target.checkMovable(to);
        Connector next = target.current().at(to);
        Connection probe = next.connect();
        try {
            String change = reference.get() == null ? null : reference.get().differenceFrom(probe.export);
            if (change != null) {
                throw new IOException(next.endpoint() + " serves a different export: " + change);
            }
        } finally {
            probe.fail("probe before retargeting", true);
        }
        Endpoint was = target.move(next);
        LOG.warning("retargeting from upstream " + was + " to " + next.endpoint());
        for (UpstreamLink l : allLinks()) {
            l.reconnect("retargeted to " + next.endpoint());
        }
    }

    @Override
    public UpstreamTarget handOverTarget() {
        return target.handOver();
    }

    @Override
    public void adoptTarget(UpstreamTarget before) {
        Connector was = target.current();
        String said = target.adopt(before);
        if (said != null) {
            LOG.warning(said);
        }
        Connector now = target.current();
        if (now != was) {
            for (UpstreamLink l : allLinks()) {
                l.reconnect("retargeted to " + now.endpoint());
            }
        }
    }

    /**
     * The watchdog's round: gives up the connections that owe an answer for longer than the timeout. Its failure
     * policy is {@link Watchdog}'s: a failed round is logged (E) and the next comes a second later.
     */
    private void checkProgress(long timeoutNanos) {
        List<UpstreamLink> all;
        synchronized (this) {
            all = List.copyOf(links);
        }
        long now = System.nanoTime();
        for (UpstreamLink l : all) {
            l.checkProgress(now, timeoutNanos);
        }
    }

    @Override
    public List<Request> handOverUnflushed() {
        reference.close(); // the service is going: a client's move here waits no longer
        try {
            journal.drain(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Request> left = journal.handOver();
        sayWaiting(left.size());
        return left;
    }

    /** The W line of a connector replaced with {@code writes} it could not flush (none: nothing to say). */
    private static void sayWaiting(int writes) {
        if (writes > 0) {
            LOG.warning("stopping with " + writes + " acknowledged writes not yet flushed upstream: they wait for the"
                    + " upstream connector that follows, which writes them first");
        }
    }

    @Override
    public void adoptUnflushed(List<Request> writes) {
        long ended = journal.adopt(writes);
        if (ended < 0) {
            return;
        }
        LOG.info("took over " + writes.size() + " acknowledged writes not yet flushed upstream from the connector"
                + " before; they are written first");
        for (UpstreamLink l : allLinks()) {
            l.dropEpoch(ended);
        }
    }

    /** Whether the whole framework stops (the proxy ends), rather than this component alone. */
    private boolean proxyStopping() {
        try {
            return context.getBundle(0).getState() != Bundle.ACTIVE;
        } catch (IllegalStateException gone) {
            return true;
        }
    }

    @Deactivate
    void deactivate() {
        UpstreamTarget moved = target.stop();
        reference.close();
        try {
            journal.drain(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boolean notWrittenAgain = journal.holding(); // before the links close, which is no loss of the upstream
        List<UpstreamLink> all;
        synchronized (this) {
            stopping = true;
            all = List.copyOf(links);
            idle.clear();
        }
        // Replaced, the connector fences its connections (a client moving on sends its requests again only once the
        // server it leaves has closed them); when the proxy stops, nobody sends them again.
        boolean fence = !proxyStopping();
        for (UpstreamLink l : all) {
            l.beginClose(fence);
        }
        for (UpstreamLink l : all) {
            l.awaitClosed();
        }
        // Nobody took them (no listener was bound, or it went first): the next connector takes them from the desk.
        List<Request> left = journal.handOver();
        if (proxyStopping()) {
            if (!left.isEmpty()) {
                LOG.warning("the proxy stops with " + left.size() + " acknowledged writes not yet flushed upstream: "
                        + (notWrittenAgain ? "the upstream was lost after it acknowledged them and they were not"
                                + " written again, so they are lost unless it kept them"
                                : "they are as safe as the upstream's cache"));
            }
        } else {
            sayWaiting(left.size());
            if (moved != null) {
                LOG.warning("stopping retargeted to " + new Endpoint(moved.address(), moved.port(), "")
                        + ": the upstream connector that follows goes there too, unless its configuration names"
                        + " another server than " + moved.replaced());
            }
        }
        desk.leave(left, moved);
        journal.close();
        watchdog.stop();
        // Not shutdownNow(): a retarget() may still be checking its server, and its handshake's guard must fire.
        timer.shutdown();
    }
}
