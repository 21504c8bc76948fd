package org.flexnbd.itests.proxy;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import javax.inject.Inject;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.ScriptedClient;
import org.flexnbd.itests.osgi.Provisioning;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.service.Upstream;
import org.junit.Assume;
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
 * The upstream bundle is updated twenty times while a client writes and reads back, verifying every block: the
 * client sees no error and no wrong data, because the downstream keeps its unanswered requests and resubmits them
 * to each new Upstream service. (Its own class: an update must not disturb other tests' framework.)
 */
@RunWith(PaxExam.class)
public class UpstreamHotUpdateIT {
    private static final int UPDATES = 20;
    private static final int BLOCK = 64 * 1024;
    private static final int BLOCKS = 256;

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void twentyUpdatesOfTheUpstreamBundleDuringVerifiedIo() throws Exception {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        Path dir = Files.createTempDirectory("hot-update");
        int proxyPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "memory", "64M").start()) {
            ApplianceConfig.upstream(cm, up.port, 5);
            ApplianceConfig.downstream(cm, proxyPort);
            ServiceTracker<Upstream, Upstream> upstreams = new ServiceTracker<>(context, Upstream.class, null);
            upstreams.open();
            upstreams.waitForService(10_000).awaitReady(Duration.ofSeconds(10));
            Peer.awaitPort(proxyPort, 10);

            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong verified = new AtomicLong();
            Thread io = new Thread(() -> verifiedIo(proxyPort, failure, verified), "verified-io");
            io.start();

            Bundle upstreamBundle = Provisioning.find(context, "flexnbd-upstream");
            Path jar = Provisioning.jar("flexnbd-upstream");
            for (int i = 0; i < UPDATES && failure.get() == null; i++) {
                long before = verified.get();
                try (InputStream in = Files.newInputStream(jar)) {
                    upstreamBundle.update(in);
                }
                // Let I/O run through the new service before the next update.
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (verified.get() < before + 3 && failure.get() == null && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertTrue("I/O goes on after update " + (i + 1), verified.get() >= before + 3
                        || failure.get() != null);
            }
            io.interrupt();
            io.join(30_000);
            if (failure.get() != null) {
                throw new AssertionError("the client saw a failure", failure.get());
            }
            assertEquals(Bundle.ACTIVE, upstreamBundle.getState());
            assertTrue(verified.get() > UPDATES * 3);
        }
    }

    /** Writes a block, reads it back, checks it; again and again until interrupted. */
    private static void verifiedIo(int port, AtomicReference<Throwable> failure, AtomicLong verified) {
        try (ScriptedClient c = new ScriptedClient(port)) {
            long cookie = 1;
            for (long n = 0; !Thread.currentThread().isInterrupted(); n++) {
                int block = (int) (n % BLOCKS);
                byte fill = (byte) (n * 31 + 7);
                Reply w = c.call(ScriptedClient.write(cookie++, (long) block * BLOCK, fill, BLOCK));
                if (w.error() != 0) {
                    throw new AssertionError("write " + n + " failed with " + w.error());
                }
                Reply r = c.call(ScriptedClient.read(cookie++, (long) block * BLOCK, BLOCK));
                if (r.error() != 0) {
                    throw new AssertionError("read " + n + " failed with " + r.error());
                }
                ByteBuffer data = r.data();
                for (int i = 0; i < BLOCK; i++) {
                    if (data.get(i) != fill) {
                        throw new AssertionError("read " + n + " has wrong data at " + i);
                    }
                }
                verified.incrementAndGet();
            }
        } catch (Throwable t) {
            if (!Thread.currentThread().isInterrupted()) {
                failure.compareAndSet(null, t);
            }
        }
    }

}
