package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The upstream connector is replaced while a WRITE is still on its way to the server over the connection the client
 * leaves. The client's requests move to the next connector and are sent again there, but only once the server has
 * closed the connection left behind: sent at once, the copy was answered, the client wrote the same block anew, and
 * the old WRITE then landed on top of that acknowledged write (a review's find; reproduced here with a slow path).
 */
public class SwitchFenceIT {
    private static final int BLOCK = 4096;
    /** How long the old connection's bytes take to reach the server: below the fence's bound of 5 s. */
    private static final long LAG_MILLIS = 3000;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path dir;
    private Path home;
    private Path disk;

    @Before
    public void distribution() throws IOException {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        dir = tmp.getRoot().toPath();
        home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        disk = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
    }

    @Test
    public void anEditOfTheUpstreamConfigurationSendsAgainOnlyOnceTheServerLeftHasClosed() throws Exception {
        assertTheLastWriteStays(proxy -> E2E.replaceUpstreamConnector(home, proxy, 500));
    }

    @Test
    public void aHotUpdateOfTheUpstreamBundleSendsAgainOnlyOnceTheServerLeftHasClosed() throws Exception {
        assertTheLastWriteStays(proxy -> {
            Path staged = home.resolve("deploy/.flexnbd-upstream.jar.tmp");
            Files.copy(home.resolve("bundle/flexnbd-upstream.jar"), staged);
            Files.move(staged, home.resolve("deploy/flexnbd-upstream.jar"), StandardCopyOption.ATOMIC_MOVE);
        });
    }

    private interface Switch {
        void apply(Proxy proxy) throws Exception;
    }

    /**
     * A WRITE of 'X' held on the slow path, the connector replaced, then (once the client has its answer) a WRITE of
     * 'Y' to the same block: the block must read 'Y' after the slow path has delivered everything.
     */
    private void assertTheLastWriteStays(Switch replaceTheConnector) throws Exception {
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "file", disk.toString()).start();
                LaggingRelay path = new LaggingRelay(up.port);
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(path.port), "-v");
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertEquals(0, c.call(ScriptedClient.read(1, 0, BLOCK)).error());

            path.lag(LAG_MILLIS);
            long sent = System.currentTimeMillis();
            c.send(ScriptedClient.write(2, 0, (byte) 'X', BLOCK));
            Thread.sleep(300); // the WRITE is on the slow path
            replaceTheConnector.apply(proxy);

            Reply first = E2E.within(30, c::next);
            long answered = System.currentTimeMillis() - sent;
            assertEquals(2, first.cookie());
            assertEquals(0, first.error());
            assertEquals(0, E2E.within(30, () -> c.call(ScriptedClient.write(3, 0, (byte) 'Y', BLOCK))).error());
            long landed = sent + LAG_MILLIS + 2000; // the slow path has delivered everything by then
            Thread.sleep(Math.max(0, landed - System.currentTimeMillis()));

            byte[] block = new byte[BLOCK];
            try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
                f.readFully(block);
            }
            assertEquals("the block after an acknowledged WRITE of 'Y'\n" + proxy.stderr(), 'Y', block[0]);
            assertEquals('Y', block[BLOCK - 1]);
            assertTrue("answered " + answered + " ms after it was sent: before the server left had carried it out",
                    answered >= LAG_MILLIS - 100);
            assertFalse(proxy.stderr(), proxy.stderr().contains("did not close a connection given up"));
            assertTrue(proxy.process.isAlive());
        }
    }
}
