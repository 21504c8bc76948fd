package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Reply;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The upstream is killed with SIGKILL several times during one copy, and restarted 2 s later each time: the copy
 * through the proxy succeeds, and what the upstream holds, read back directly, is what was copied.
 */
public class UpstreamKilledIT {
    private static final long SIZE = 512L << 20;
    private static final int KILLS = 3;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path shm;
    private Path disk;

    @Before
    public void tools() throws Exception {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        E2E.assumeTool("nbdcopy");
        shm = E2E.shm("flexnbd-kill");
        disk = shm.resolve("upstream.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(SIZE);
        }
    }

    @After
    public void clean() throws Exception {
        E2E.deleteTree(shm);
    }

    private Nbdkit upstream(int port) {
        // Throttled to 32 MB/s (the filter counts bits), so that all the kills land mid-copy even on a quiet machine; -t 1 keeps nbdkit's abandoned-connection quirk away.
        return new Nbdkit(tmp.getRoot().toPath(), port, "-t", "1", "--filter=rate", "file", disk.toString(),
                "rate=256M");
    }

    @Test
    public void writesSurviveRepeatedKills() throws Exception {
        Path src = E2E.randomFile(shm, "src.img", SIZE);
        int port = Peer.freePort();
        Nbdkit up = upstream(port).start();
        try (Proxy proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(port), "-v");
                Peer copy = Peer.start(tmp.getRoot().toPath(), "nbdcopy", "nbdcopy", "--flush", src.toString(),
                        proxy.uri())) {
            up = killAndRestart(up, port, copy);
            Integer status = copy.waitFor(300);
            assertEquals("nbdcopy: " + copy.stderr() + "\nproxy: " + proxy.stderr(), Integer.valueOf(0), status);
            assertTrue(proxy.stderr(), proxy.stderr().contains("retransmitting"));
        } finally {
            up.close();
        }
        assertEquals(E2E.sha256(src), E2E.sha256(disk));
    }

    @Test
    public void readsSurviveRepeatedKills() throws Exception {
        Path src = E2E.randomFile(shm, "src.img", SIZE);
        java.nio.file.Files.copy(src, disk, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path back = shm.resolve("back.img");
        int port = Peer.freePort();
        Nbdkit up = upstream(port).start();
        try (Proxy proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(port), "-v");
                Peer copy = Peer.start(tmp.getRoot().toPath(), "nbdcopy", "nbdcopy", proxy.uri(),
                        back.toString())) {
            up = killAndRestart(up, port, copy);
            Integer status = copy.waitFor(300);
            assertEquals("nbdcopy: " + copy.stderr() + "\nproxy: " + proxy.stderr(), Integer.valueOf(0), status);
        } finally {
            up.close();
        }
        assertEquals(E2E.sha256(src), E2E.sha256(back));
    }

    private Nbdkit killAndRestart(Nbdkit up, int port, Peer copy) throws Exception {
        for (int i = 0; i < KILLS; i++) {
            Thread.sleep(1500);
            assertTrue("the copy is still running when kill " + (i + 1) + " comes", copy.isAlive());
            up.kill9();
            Thread.sleep(2000);
            up = upstream(port).start();
        }
        return up;
    }

    /**
     * After an outage, a link that finds the upstream back wakes the others, which were waiting out their back-off.
     * Client a's request stays unanswered through the outage, long enough for its link's pauses to reach 6.4 s; a
     * new client's link (new: a and a second client hold the readiness probe's link and one more) connects at once,
     * and a's request is answered right after, not when a's next attempt comes, 12.7 s after the loss (its
     * unanswered writes would otherwise land after whatever the new client wrote meanwhile).
     */
    @Test
    public void aLinkThatFindsTheUpstreamBackWakesTheOthersWaitingOutTheirBackOff() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        Path cfg = home.resolve("config/org.flexnbd.upstream.cfg");
        Files.writeString(cfg, Files.readString(cfg).replace("reconnectMaxDelayMillis=5000",
                "reconnectMaxDelayMillis=30000"));
        int upPort = Peer.freePort();
        Nbdkit up = new Nbdkit(dir, upPort, "memory", "1M").start();
        try (Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(upPort), "--max-clients", "3", "-v");
                ScriptedClient a = new ScriptedClient(proxy.port);
                ScriptedClient other = new ScriptedClient(proxy.port)) {
            assertEquals(0, a.call(ScriptedClient.read(1, 0, 4096)).error());
            assertEquals(0, other.call(ScriptedClient.read(1, 0, 4096)).error());
            up.kill9();
            a.send(ScriptedClient.read(2, 0, 4096));
            Thread.sleep(7_000); // a's link tries at 0, 0.1, 0.3 ... 3.1 and 6.3 s after the loss; the next at 12.7 s
            up = new Nbdkit(dir, upPort, "memory", "1M").start();
            try (ScriptedClient b = new ScriptedClient(proxy.port)) {
                assertEquals(0, b.call(ScriptedClient.read(3, 0, 4096)).error());
                long answeredB = System.nanoTime();
                Reply r = a.next();
                long later = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - answeredB);
                assertEquals(2, r.cookie());
                assertEquals(0, r.error());
                assertTrue("a's request answered " + later + " ms after b's: its link waited out its back-off\n"
                        + proxy.stderr(), later < 2500);
            }
        } finally {
            up.close();
        }
    }
}
