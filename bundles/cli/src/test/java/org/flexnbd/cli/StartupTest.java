package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.service.Downstream;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamSession;
import org.flexnbd.protocol.service.UpstreamStatus;
import org.junit.Test;

/** The start-up sequence against test doubles of the appliance and of the two services. */
public class StartupTest {

    /** Records what is configured and waited for, in order. */
    private static final class FakeAppliance implements Appliance {
        final List<String> events = new ArrayList<>();
        final Map<String, Map<String, Object>> pushed = new LinkedHashMap<>();
        final Map<String, Map<String, Object>> defaults = new HashMap<>();
        final Map<Class<?>, Object> services = new HashMap<>();
        final java.util.Set<String> configuredBefore = new java.util.HashSet<>();
        Duration readyTimeout;

        @Override
        public boolean configured(String pid) {
            return configuredBefore.contains(pid);
        }

        @Override
        public Map<String, Object> configure(String pid, Map<String, Object> flags) {
            events.add("configure " + pid);
            Map<String, Object> merged = new LinkedHashMap<>(defaults.getOrDefault(pid, Map.of()));
            merged.putAll(flags);
            pushed.put(pid, merged);
            return merged;
        }

        @Override
        public <T> T awaitService(Class<T> type, Duration timeout) {
            events.add("await " + type.getSimpleName());
            return type.cast(services.get(type));
        }

        @Override
        public boolean awaitFile(Path file, Duration timeout) {
            events.add("await file " + file);
            return true;
        }
    }

    private static final class FakeUpstream implements Upstream {
        final FakeAppliance appliance;
        final IOException failure;

        FakeUpstream(FakeAppliance appliance, IOException failure) {
            this.appliance = appliance;
            this.failure = failure;
        }

        @Override
        public UpstreamExport awaitReady(Duration timeout) throws IOException {
            appliance.events.add("awaitReady");
            appliance.readyTimeout = timeout;
            if (failure != null) {
                throw failure;
            }
            return null;
        }

        @Override
        public UpstreamSession open(RequestLedger ledger) {
            throw new UnsupportedOperationException();
        }

        @Override
        public UpstreamStatus status() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void reconnect() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void retarget(String address, int port) {
            throw new UnsupportedOperationException();
        }
    }

    private static final class FakeDownstream implements Downstream {
        final FakeAppliance appliance;
        final IOException failure;

        FakeDownstream(FakeAppliance appliance, IOException failure) {
            this.appliance = appliance;
            this.failure = failure;
        }

        @Override
        public String listenAddress() throws IOException {
            appliance.events.add("listenAddress");
            if (failure != null) {
                throw failure;
            }
            return "127.0.0.1:4777";
        }

        @Override
        public List<String> clientAddresses() {
            return List.of();
        }

        @Override
        public long requestsRelayed() {
            return 0;
        }

        @Override
        public long bytesRelayed() {
            return 0;
        }
    }

    private static ProxySettings settings(String... args) {
        return ((Outcome.Run) new ArgumentParser(Map.of()).parse(args)).settings();
    }

    private static FakeAppliance working() {
        FakeAppliance a = new FakeAppliance();
        a.services.put(Upstream.class, new FakeUpstream(a, null));
        a.services.put(Downstream.class, new FakeDownstream(a, null));
        return a;
    }

    @Test
    public void theUpstreamIsReadyBeforeTheListenerIsConfigured() throws Exception {
        FakeAppliance a = working();
        a.defaults.put(Pids.UPSTREAM, Map.of("connectTimeoutSeconds", 15, "timeoutSeconds", 30));
        new Startup(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778", "--jmx-port", "9010",
                "--jmx-password-file", "/p"), a, null).run();
        assertEquals(List.of("configure org.flexnbd.upstream", "await Upstream", "awaitReady",
                "configure org.flexnbd.downstream", "await Downstream", "listenAddress",
                "configure org.flexnbd.management"), a.events);
        assertEquals(Duration.ofSeconds(15), a.readyTimeout);
        assertEquals(Map.of("connectTimeoutSeconds", 15, "timeoutSeconds", 30, "address", "10.0.0.1", "port", 4778),
                a.pushed.get(Pids.UPSTREAM));
        assertEquals(Map.of("jmxPort", 9010, "jmxPasswordFile", "/p"), a.pushed.get(Pids.MANAGEMENT));
    }

    @Test
    public void flagsWinOverTheDefaults() throws Exception {
        FakeAppliance a = working();
        a.defaults.put(Pids.UPSTREAM, Map.of("timeoutSeconds", 30, "connectTimeoutSeconds", 3));
        a.defaults.put(Pids.DOWNSTREAM, Map.of("maxClients", 1, "handshake", "same"));
        new Startup(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778", "--upstream-timeout",
                "8", "--max-clients", "2", "--handshake", "newstyle"), a, null).run();
        assertEquals(8, a.pushed.get(Pids.UPSTREAM).get("timeoutSeconds"));
        assertEquals(2, a.pushed.get(Pids.UPSTREAM).get("maxClients"));
        assertEquals(2, a.pushed.get(Pids.DOWNSTREAM).get("maxClients"));
        assertEquals("newstyle", a.pushed.get(Pids.DOWNSTREAM).get("handshake"));
        assertEquals("the start-up connect takes the configured time", Duration.ofSeconds(3), a.readyTimeout);
    }

    @Test
    public void anUnreachableUpstreamStopsStartUpWithStatus1BeforeTheListenerIsConfigured() throws Exception {
        FakeAppliance a = working();
        a.services.put(Upstream.class, new FakeUpstream(a, new ConnectException("Connection refused")));
        try {
            new Startup(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778"), a, null).run();
            fail();
        } catch (StartupFailure e) {
            assertEquals(1, e.status());
            assertEquals("cannot connect to upstream 10.0.0.1:4778: Connection refused", e.getMessage());
        }
        assertEquals(List.of("configure org.flexnbd.upstream", "await Upstream", "awaitReady"), a.events);
    }

    @Test
    public void startedAgainInARunningApplianceItDoesNotAwaitTheUpstream() throws Exception {
        FakeAppliance a = working();
        a.configuredBefore.add(Pids.DOWNSTREAM);
        a.services.put(Upstream.class, new FakeUpstream(a, new ConnectException("Connection refused")));
        new Startup(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778"), a, null).run();
        assertEquals(List.of("configure org.flexnbd.upstream", "await Upstream", "configure org.flexnbd.downstream",
                "await Downstream", "listenAddress", "configure org.flexnbd.management"), a.events);
    }

    @Test
    public void aMissingUpstreamComponentIsAFailureToo() throws Exception {
        FakeAppliance a = working();
        a.services.remove(Upstream.class);
        try {
            new Startup(settings("-l", "127.0.0.1", "-p", "4777", "-C", "/run/up.sock"), a, null).run();
            fail();
        } catch (StartupFailure e) {
            assertEquals(1, e.status());
            assertTrue(e.getMessage(), e.getMessage().startsWith("cannot connect to upstream /run/up.sock: "));
        }
    }

    @Test
    public void aListenAddressThatCannotBeBoundStopsStartUpWithStatus1() throws Exception {
        FakeAppliance a = working();
        a.services.put(Downstream.class, new FakeDownstream(a, new IOException("Address already in use")));
        try {
            new Startup(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778"), a, null).run();
            fail();
        } catch (StartupFailure e) {
            assertEquals(1, e.status());
            assertEquals("cannot listen on 127.0.0.1:4777: Address already in use", e.getMessage());
        }
        assertTrue(a.events.toString(), !a.events.contains("configure org.flexnbd.management"));
    }

    @Test
    public void demoStartsTheDemoServerFirstAndPointsTheUpstreamAtIt() throws Exception {
        FakeAppliance a = working();
        a.defaults.put(Pids.DEMO, Map.of("size", 1L << 30));
        Path socket = Path.of("/tmp/flexnbd-demo-x/demo.sock");
        new Startup(settings("--demo"), a, socket).run();
        assertEquals(List.of("configure org.flexnbd.demo", "await file " + socket, "configure org.flexnbd.upstream",
                "await Upstream", "awaitReady", "configure org.flexnbd.downstream", "await Downstream",
                "listenAddress", "configure org.flexnbd.management"), a.events);
        assertEquals(Map.of("size", 1L << 30, "path", socket.toString()), a.pushed.get(Pids.DEMO));
        assertEquals(socket.toString(), a.pushed.get(Pids.UPSTREAM).get("address"));
        assertEquals(0, a.pushed.get(Pids.UPSTREAM).get("port"));
        assertEquals(Map.of("address", "127.0.0.1", "port", 10809), a.pushed.get(Pids.DOWNSTREAM));
    }
}
