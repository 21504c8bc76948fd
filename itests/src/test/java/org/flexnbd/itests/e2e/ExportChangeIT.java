package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * After a reconnect the upstream must serve the export the client negotiated. A server that comes back with another
 * size is not used: the proxy logs it (E) and keeps trying, holding the client's requests, until the right export
 * is back (the migration case: the new server is still being set up).
 */
public class ExportChangeIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void tools() {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
    }

    @Test
    public void aDifferentExportIsNotUsedAndTheRightOneIsWaitedFor() throws Exception {
        int port = Peer.freePort();
        Nbdkit up = new Nbdkit(tmp.getRoot().toPath(), port, "memory", "64M").start();
        try (Proxy proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(port), "-v");
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertEquals(0, c.call(ScriptedClient.read(1, 0, 4096)).error());
            up.kill9();
            up = new Nbdkit(tmp.getRoot().toPath(), port, "memory", "32M").start();
            CompletableFuture<Reply> pending = E2E.async(() -> c.call(ScriptedClient.read(2, 0, 4096)));
            long deadline = System.currentTimeMillis() + 20_000;
            while (!proxy.stderr().contains("different export") && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(proxy.stderr(), proxy.stderr().contains("E:") && proxy.stderr().contains("size changed"));
            assertTrue("the request waits", !pending.isDone());
            up.kill9();
            up = new Nbdkit(tmp.getRoot().toPath(), port, "memory", "64M").start();
            assertEquals(0, pending.get(30, TimeUnit.SECONDS).error());
        } finally {
            up.close();
        }
    }
}
