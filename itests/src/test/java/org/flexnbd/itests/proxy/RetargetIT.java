package org.flexnbd.itests.proxy;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
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
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The migration case where the new server does not take over the old address: Upstream.retarget() moves a proxy
 * whose client is doing verified I/O to a second nbdkit serving the same file, and the first can then go. A server
 * with another export is refused, with the reason, and the proxy stays.
 */
@RunWith(PaxExam.class)
public class RetargetIT {
    private static final int BLOCK = 64 * 1024;

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void retargetUnderVerifiedIo() throws Exception {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        Path dir = Files.createTempDirectory("retarget");
        Path disk = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(32L << 20);
        }
        int proxyPort = Peer.freePort();
        try (Nbdkit first = new Nbdkit(dir, Peer.freePort(), "-t", "1", "file", disk.toString()).start();
                Nbdkit second = new Nbdkit(dir, Peer.freePort(), "-t", "1", "file", disk.toString()).start();
                Nbdkit other = new Nbdkit(dir, Peer.freePort(), "memory", "16M").start()) {
            ApplianceConfig.upstream(cm, first.port, 5);
            ApplianceConfig.downstream(cm, proxyPort);
            ServiceTracker<Upstream, Upstream> tracker = new ServiceTracker<>(context, Upstream.class, null);
            tracker.open();
            Upstream upstream = tracker.waitForService(10_000);
            upstream.awaitReady(Duration.ofSeconds(10));
            Peer.awaitPort(proxyPort, 10);

            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong verified = new AtomicLong();
            Thread io = new Thread(() -> verifiedIo(proxyPort, failure, verified), "verified-io");
            io.start();
            awaitVerified(verified, 10, failure);

            try {
                upstream.retarget("127.0.0.1", other.port);
                fail("a server with another export is refused");
            } catch (IOException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains("size changed"));
            }
            assertEquals("127.0.0.1:" + first.port, upstream.status().address());

            upstream.retarget("127.0.0.1", second.port);
            assertEquals("127.0.0.1:" + second.port, upstream.status().address());
            awaitVerified(verified, verified.get() + 10, failure);
            first.close(); // the old server goes away: the client must not notice
            awaitVerified(verified, verified.get() + 20, failure);

            io.interrupt();
            io.join(10_000);
            if (failure.get() != null) {
                throw new AssertionError("the client saw a failure", failure.get());
            }
        }
    }

    private static void awaitVerified(AtomicLong verified, long atLeast, AtomicReference<Throwable> failure)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        while (verified.get() < atLeast && failure.get() == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        if (failure.get() != null) {
            throw new AssertionError("the client saw a failure", failure.get());
        }
        assertTrue("I/O goes on: " + verified.get() + " of " + atLeast, verified.get() >= atLeast);
    }

    private static void verifiedIo(int port, AtomicReference<Throwable> failure, AtomicLong verified) {
        try (ScriptedClient c = new ScriptedClient(port)) {
            long cookie = 1;
            for (long n = 0; !Thread.currentThread().isInterrupted(); n++) {
                long offset = (n % 256) * BLOCK;
                byte fill = (byte) (n * 7 + 3);
                Reply w = c.call(ScriptedClient.write(cookie++, offset, fill, BLOCK));
                if (w.error() != 0) {
                    throw new AssertionError("write " + n + " failed: " + w.error());
                }
                Reply r = c.call(ScriptedClient.read(cookie++, offset, BLOCK));
                ByteBuffer data = r.data();
                if (r.error() != 0 || data.remaining() != BLOCK) {
                    throw new AssertionError("read " + n + " failed: " + r.error());
                }
                for (int i = 0; i < BLOCK; i++) {
                    if (data.get(i) != fill) {
                        throw new AssertionError("wrong data in round " + n + " at " + (offset + i));
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
