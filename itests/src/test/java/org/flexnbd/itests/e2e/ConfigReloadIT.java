package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * An operator edits config/org.flexnbd.upstream.cfg in a running appliance: the new upstream timeout applies at
 * once, to the connected client's session too, without a restart.
 */
public class ConfigReloadIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    @Test
    public void aShorterUpstreamTimeoutInTheCfgFileTakesEffect() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        Path cfg = home.resolve("config/org.flexnbd.upstream.cfg");
        assertTrue(Files.readString(cfg).contains("timeoutSeconds=30"));
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.STALL_ON_READ, 0)) {
            try (Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                    Integer.toString(up.port()), "-v")) {
                try (ScriptedClient c = new ScriptedClient(proxy.port)) {
                    assertEquals(0, c.call(ScriptedClient.write(1, 0, (byte) 5, 4096)).error());

                    Path edited = home.resolve("config/.upstream.cfg.tmp");
                    Files.writeString(edited, Files.readString(cfg).replace("timeoutSeconds=30", "timeoutSeconds=2"));
                    Files.move(edited, cfg, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    long deadline = System.currentTimeMillis() + 20_000;
                    while (!proxy.stderr().contains("org.flexnbd.upstream.cfg changed")
                            && System.currentTimeMillis() < deadline) {
                        Thread.sleep(100);
                    }
                    assertTrue(proxy.stderr(), proxy.stderr().contains("org.flexnbd.upstream.cfg changed"));

                    // The upstream stalls on this READ; with 30 s it would still wait, with 2 s it is sent again.
                    CompletableFuture<Reply> read = E2E.async(() -> c.call(ScriptedClient.read(2, 0, 4096)));
                    Reply r = read.get(15, TimeUnit.SECONDS);
                    assertEquals(0, r.error());
                    assertEquals(5, r.data().get(0));
                    assertTrue(proxy.stderr(), proxy.stderr().contains("no progress for 2 s")
                            || proxy.stderr().contains("no progress for 3 s"));
                }
            }
        }
    }
}
