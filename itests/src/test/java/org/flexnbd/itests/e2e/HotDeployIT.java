package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * An operator drops a new upstream bundle into the running appliance's deploy/ folder while a client writes and
 * reads back: FileInstall updates the bundle, the client's unanswered requests move to the new Upstream service, and
 * the client sees no error and no wrong data.
 */
public class HotDeployIT {
    private static final int BLOCK = 64 * 1024;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void tools() {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
    }

    @Test
    public void anUpstreamBundleDroppedIntoDeployIsPickedUpUnderIo() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "memory", "64M").start()) {
            int port = Peer.freePort();
            List<String> cmd = Peer.list(home.resolve("bin/flexnbd-proxy").toString(), "-l", "127.0.0.1", "-p",
                    Integer.toString(port), "-C", "127.0.0.1", "-P", Integer.toString(up.port), "-v");
            try (Peer proxy = Peer.start(dir, "proxy", cmd)) {
                Peer.awaitPort(port, 20);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                AtomicLong verified = new AtomicLong();
                Thread io = new Thread(() -> verifiedIo(port, failure, verified), "verified-io");
                io.start();
                awaitVerified(verified, 5, failure);

                Path staged = home.resolve("deploy/.flexnbd-upstream.jar.tmp");
                Files.copy(home.resolve("bundle/flexnbd-upstream.jar"), staged);
                Files.move(staged, home.resolve("deploy/flexnbd-upstream.jar"), StandardCopyOption.ATOMIC_MOVE);

                long deadline = System.currentTimeMillis() + 30_000;
                while (!proxy.stderr().contains("moved to a new upstream service")
                        && System.currentTimeMillis() < deadline && failure.get() == null) {
                    Thread.sleep(100);
                }
                long before = verified.get();
                awaitVerified(verified, before + 5, failure);
                io.interrupt();
                io.join(10_000);
                assertNull("the client saw no failure", failure.get());
                assertTrue(proxy.stderr(), proxy.stderr().contains("moved to a new upstream service"));
                assertTrue("no error logged: " + proxy.stderr(),
                        proxy.stderr().lines().noneMatch(l -> l.startsWith("E:") || l.startsWith("F:")));
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
        assertTrue("I/O goes on", verified.get() >= atLeast);
    }

    private static void verifiedIo(int port, AtomicReference<Throwable> failure, AtomicLong verified) {
        try (ScriptedClient c = new ScriptedClient(port)) {
            long cookie = 1;
            for (long n = 0; !Thread.currentThread().isInterrupted(); n++) {
                long offset = (n % 512) * BLOCK;
                byte fill = (byte) (n * 13 + 1);
                assertEquals(0, c.call(ScriptedClient.write(cookie++, offset, fill, BLOCK)).error());
                Reply r = c.call(ScriptedClient.read(cookie++, offset, BLOCK));
                assertEquals(0, r.error());
                ByteBuffer data = r.data();
                for (int i = 0; i < BLOCK; i++) {
                    if (data.get(i) != fill) {
                        throw new AssertionError("wrong data at " + (offset + i) + " in round " + n);
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
