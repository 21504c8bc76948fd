package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

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
                try (VerifiedIo io = VerifiedIo.start(port, 512)) {
                    io.awaitVerified(5);
                    Path staged = home.resolve("deploy/.flexnbd-upstream.jar.tmp");
                    Files.copy(home.resolve("bundle/flexnbd-upstream.jar"), staged);
                    Files.move(staged, home.resolve("deploy/flexnbd-upstream.jar"), StandardCopyOption.ATOMIC_MOVE);
                    long deadline = System.currentTimeMillis() + 30_000;
                    while (!proxy.stderr().contains("moved to a new upstream service")
                            && System.currentTimeMillis() < deadline && io.failure() == null) {
                        Thread.sleep(100);
                    }
                    io.awaitMore(5);
                }
                assertTrue(proxy.stderr(), proxy.stderr().contains("moved to a new upstream service"));
                assertTrue("no error logged: " + proxy.stderr(),
                        proxy.stderr().lines().noneMatch(l -> l.startsWith("E:") || l.startsWith("F:")));
            }
        }
    }
}
