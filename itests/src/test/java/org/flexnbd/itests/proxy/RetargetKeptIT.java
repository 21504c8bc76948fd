package org.flexnbd.itests.proxy;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.VerifiedIo;
import org.flexnbd.itests.osgi.Provisioning;
import org.flexnbd.protocol.service.Upstream;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

/**
 * A retarget() outlives the upstream service that made it: after the client moved to a second server and the first
 * went, an edit of the upstream configuration and a hot update of the upstream bundle each start a new service, which
 * stays on the second server (the first is gone, so going back would stall the client's verified I/O). An edit that
 * names another server is the operator's later choice and wins. (Its own class: an update must not disturb other
 * tests' framework.)
 */
@RunWith(PaxExam.class)
public class RetargetKeptIT {
    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void aRetargetOutlivesItsServiceUntilAnEditNamesAnotherServer() throws Exception {
        Path disk = FileUpstreams.disk("retarget-kept");
        int proxyPort = Peer.freePort();
        try (Nbdkit first = FileUpstreams.server(disk).start();
                Nbdkit second = FileUpstreams.server(disk).start();
                Nbdkit third = FileUpstreams.server(disk).start()) {
            Upstream upstream = ApplianceConfig.start(context, cm, first.port, proxyPort);
            ServiceTracker<Upstream, Upstream> services = new ServiceTracker<>(context, Upstream.class, null);
            services.open();
            try (VerifiedIo io = VerifiedIo.start(proxyPort, 256)) {
                io.awaitVerified(5);
                upstream.retarget("127.0.0.1", second.port);
                first.close();
                io.awaitMore(5);

                ApplianceConfig.upstream(cm, first.port, 6); // the configured address is still the first's
                upstream = replaced(services, upstream);
                assertAddress("after a configuration edit", "127.0.0.1:" + second.port, upstream);
                io.awaitMore(10);

                try (InputStream in = Files.newInputStream(Provisioning.jar("flexnbd-upstream"))) {
                    Provisioning.find(context, "flexnbd-upstream").update(in);
                }
                upstream = replaced(services, upstream);
                assertAddress("after a hot update", "127.0.0.1:" + second.port, upstream);
                io.awaitMore(10);
            }
            // A release: the listener's bundle and the upstream's replaced together, the listener stopping first, so
            // that none is there when the connector goes (its clients go with it). Before, the retarget was lost.
            Bundle listener = Provisioning.find(context, "flexnbd-downstream");
            Bundle connector = Provisioning.find(context, "flexnbd-upstream");
            listener.stop();
            connector.stop();
            connector.start();
            listener.start();
            upstream = replaced(services, upstream);
            assertAddress("after a release", "127.0.0.1:" + second.port, upstream);
            Peer.awaitPort(proxyPort, 10);
            try (VerifiedIo io = VerifiedIo.start(proxyPort, 256)) {
                io.awaitVerified(10);

                ApplianceConfig.upstream(cm, third.port, 6);
                upstream = replaced(services, upstream);
                assertAddress("after an edit naming a third server", "127.0.0.1:" + third.port, upstream);
                second.close();
                io.awaitMore(10);
            } finally {
                services.close();
            }
        } finally {
            FileUpstreams.delete(disk);
        }
    }

    /**
     * A retarget whose check of the new server is still under way when the connector is replaced: it used to report
     * success on the connector that had gone, while the next one, told of no retarget, served the clients from the old
     * server. Now it fails with the reason, and a retarget on the new connector moves it.
     */
    @Test
    public void aRetargetOverlappingAReplacementFailsRatherThanBeLost() throws Exception {
        Path disk = FileUpstreams.disk("retarget-race");
        int proxyPort = Peer.freePort();
        try (Nbdkit first = FileUpstreams.server(disk).start();
                Nbdkit second = FileUpstreams.server(disk).start();
                DelayingRelay slow = new DelayingRelay(second.port, 5000)) {
            Upstream upstream = ApplianceConfig.start(context, cm, first.port, proxyPort);
            ServiceTracker<Upstream, Upstream> services = new ServiceTracker<>(context, Upstream.class, null);
            services.open();
            try (VerifiedIo io = VerifiedIo.start(proxyPort, 256)) {
                io.awaitVerified(5);
                Upstream before = upstream;
                CompletableFuture<String> retarget = CompletableFuture.supplyAsync(() -> {
                    try {
                        before.retarget("127.0.0.1", slow.port);
                        return "moved";
                    } catch (IOException e) {
                        return e.getMessage();
                    }
                });
                Thread.sleep(1000); // the check of the slow server has begun, and lasts 4 s more
                ApplianceConfig.upstream(cm, first.port, 6);
                upstream = replaced(services, upstream);
                String outcome = retarget.get(30, TimeUnit.SECONDS);
                String expected = "127.0.0.1:" + (outcome.equals("moved") ? slow.port : first.port);
                assertTrue("retarget() said \"" + outcome + "\"", outcome.equals("moved")
                        || outcome.contains("replaced"));
                // Before, it said "moved" and the new connector was on the first server.
                assertAddress("after retarget() said \"" + outcome + "\"", expected, upstream);
                io.awaitMore(5);

                upstream.retarget("127.0.0.1", slow.port);
                assertEquals("127.0.0.1:" + slow.port, upstream.status().address());
                io.awaitMore(5);
            } finally {
                services.close();
            }
        } finally {
            FileUpstreams.delete(disk);
        }
    }

    /**
     * The address {@code upstream} shows, once it is {@code expected} (10 s at most): the listener hands a retarget
     * over on SCR's thread, maybe just after the test's tracker saw the new service.
     */
    private static void assertAddress(String when, String expected, Upstream upstream) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (!upstream.status().address().equals(expected) && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(when, expected, upstream.status().address());
    }

    /** The service that replaced {@code old}, waiting 20 s at most. */
    private static Upstream replaced(ServiceTracker<Upstream, Upstream> services, Upstream old)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (System.currentTimeMillis() < deadline) {
            Upstream now = services.getService();
            if (now != null && now != old) {
                return now;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no new Upstream service within 20 s");
    }
}
