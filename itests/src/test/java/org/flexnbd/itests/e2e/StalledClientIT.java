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
 * A client that sends requests and stops reading the replies would hold its place (the only one, by default), its
 * share of the payload budget and its upstream connection for ever: after clientTimeoutSeconds it is closed, and
 * the next client is served.
 */
public class StalledClientIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    @Test
    public void aClientThatStopsReadingIsClosedAndTheNextOneServed() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        Path cfg = home.resolve("config/org.flexnbd.downstream.cfg");
        String defaults = Files.readString(cfg);
        assertTrue(defaults.contains("clientTimeoutSeconds=60"));
        Files.writeString(cfg, defaults.replace("clientTimeoutSeconds=60", "clientTimeoutSeconds=2"));
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0)) {
            try (Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                    Integer.toString(up.port()))) {
                int port = proxy.port;
                try (ScriptedClient stalled = new ScriptedClient(port)) {
                    // 48 MiB of replies: far more than the sockets between can hold, well within the budget.
                    for (int i = 0; i < 48; i++) {
                        stalled.send(ScriptedClient.read(i, (i % 16) * (1L << 20), 1 << 20));
                    }
                    // Never read. With one place only, the next client waits for this one to be closed; a
                    // bounded wait, so that a failure still stops the proxy (closing it ends the next client too).
                    CompletableFuture<Reply> served = E2E.async(() -> {
                        try (ScriptedClient next = new ScriptedClient(port)) {
                            return next.call(ScriptedClient.read(100, 0, 4096));
                        }
                    });
                    Reply r = served.get(30, TimeUnit.SECONDS);
                    assertEquals(0, r.error());
                    assertEquals(4096, r.data().remaining());
                }
                assertTrue(proxy.stderr(), proxy.stderr().contains("has taken no reply for"));
            }
        }
    }
}
