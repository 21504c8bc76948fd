package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * A running appliance's config/*.cfg edited badly: a value out of range is refused with an E line naming the key,
 * a 300 MB file is refused unread; each time the proxy keeps serving its client with the running configuration,
 * and a good edit afterwards is still applied (the watching thread survived).
 */
public class BadConfigEditIT {
    private static final String APPLIED = "org.flexnbd.upstream.cfg changed: configuration applied";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    @Test
    public void badAndOversizedFilesAreRefusedTheProxyServesOnAndAGoodEditStillApplies() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        Path cfg = home.resolve("config/org.flexnbd.upstream.cfg");
        String original = Files.readString(cfg);
        assertTrue(original.contains("reconnectMaxDelayMillis=5000"));
        try (Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "--demo", "-v");
                ScriptedClient client = new ScriptedClient(proxy.port)) {
            assertEquals(0, client.call(ScriptedClient.write(1, 0, (byte) 7, 4096)).error());

            replace(cfg, original.replace("reconnectMaxDelayMillis=5000", "reconnectMaxDelayMillis=-1"));
            awaitLine(proxy, "E:", "reconnectMaxDelayMillis");
            assertServes(client, 2);

            try (RandomAccessFile huge = new RandomAccessFile(cfg.toFile(), "rw")) {
                huge.setLength(300L << 20); // sparse: no disk used
            }
            awaitLine(proxy, "E:", "more than a configuration file may hold");
            assertServes(client, 3);

            // Emptied or removed, the file would put every setting back to its default (TLS off, allow= empty).
            replace(cfg, "# nothing left\n");
            awaitLine(proxy, "E:", "holds no setting");
            Files.delete(cfg);
            awaitLine(proxy, "E:", "is gone");
            assertServes(client, 5);

            // TLS the listener could not start with: applied, it dropped every client, then the process exited.
            Path listener = home.resolve("config/org.flexnbd.downstream.cfg");
            replace(listener, Files.readString(listener).replace("tls=off", "tls=require")
                    .replace("tlsCertificates=", "tlsCertificates=" + dir.resolve("no-such-folder")));
            awaitLine(proxy, "E:", "TLS:");
            assertServes(client, 6);

            replace(cfg, original.replace("timeoutSeconds=30", "timeoutSeconds=29"));
            awaitLine(proxy, "I:", APPLIED);
            assertServes(client, 4);
            assertFalse(proxy.stderr(), proxy.stderr().contains("org.flexnbd.downstream.cfg changed"));
            assertEquals("only the good edit was applied, not the emptied file nor the removed one", 1,
                    proxy.stderr().lines().filter(l -> l.contains(APPLIED)).count());
            assertTrue(proxy.stderr(), proxy.stderr().lines().noneMatch(l -> l.startsWith("F:")));
        }
    }

    /** As an editor saves: write a copy, rename it over the file. */
    private static void replace(Path cfg, String text) throws Exception {
        Path staged = cfg.resolveSibling(".edit.tmp");
        Files.writeString(staged, text);
        Files.move(staged, cfg, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void assertServes(ScriptedClient client, long cookie) throws Exception {
        var reply = client.call(ScriptedClient.read(cookie, 0, 4096));
        assertEquals(0, reply.error());
        assertEquals(7, reply.data().get(0));
    }

    private static void awaitLine(Proxy proxy, String level, String text) throws Exception {
        String log = proxy.awaitStderr(l -> has(l, level, text), 20);
        assertTrue(log, has(log, level, text));
    }

    private static boolean has(String log, String level, String text) {
        return log.lines().anyMatch(l -> l.startsWith(level) && l.contains(text));
    }
}
