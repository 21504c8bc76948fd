package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;

import org.flexnbd.protocol.Nbd;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Who may connect (allow in config/org.flexnbd.downstream.cfg, set in a copy of the distribution): a refused client
 * is closed before it gets a byte, takes no place, and is logged (W, a bounded number of lines); a malformed list
 * stops the proxy from listening.
 */
public class AllowListIT {
    private static final String REFUSED = "refused: not in allow";
    private static final String DEMO_SIZE = "1073741824";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private int appliances;

    @Before
    public void tools() {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdinfo");
    }

    private Path dir() {
        return tmp.getRoot().toPath();
    }

    /** A copy of the distribution whose downstream configuration says allow=VALUE. */
    private Path applianceAllowing(String value) throws IOException {
        Path home = E2E.copyOfTheDistribution(dir().resolve("appliance-" + ++appliances));
        Path cfg = home.resolve("config/org.flexnbd.downstream.cfg");
        String defaults = Files.readString(cfg);
        assertTrue("the shipped file lets everyone in", defaults.contains("\nallow=\n"));
        Files.writeString(cfg, defaults.replace("\nallow=\n", "\nallow=" + value + "\n"));
        return home;
    }

    /** Connects from {@code source}; returns the first 8 bytes the proxy sends, or null if it closes first. */
    private static Long firstEightBytes(String source, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(source, 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            int first = in.read();
            if (first < 0) {
                return null;
            }
            byte[] rest = new byte[7];
            new DataInputStream(in).readFully(rest);
            long magic = first;
            for (byte b : rest) {
                magic = magic << 8 | (b & 0xff);
            }
            return magic;
        }
    }

    private static long lines(String log, String text) {
        return log.lines().filter(l -> l.contains(text)).count();
    }

    @Test
    public void tcpClientsAreLetInByTheirAddress() throws Exception {
        int port = Peer.freePort();
        try (Proxy proxy = Proxy.startIn(applianceAllowing("127.0.0.2"), dir(), port, "--demo")) {
            assertEquals("127.0.0.2 gets the hello", Long.valueOf(Nbd.NBDMAGIC), firstEightBytes("127.0.0.2", port));
            assertEquals("127.0.0.1 gets not a byte", null, firstEightBytes("127.0.0.1", port));
            try (Peer info = Peer.run(dir(), "nbdinfo", 60, "nbdinfo", "--size", proxy.uri())) {
                assertNotEquals("nbdinfo from 127.0.0.1 is refused", 0, info.exitStatus());
            }
            String log = proxy.stderr();
            assertTrue(log, log.lines().anyMatch(l -> l.startsWith("W:") && l.contains("client 127.0.0.1:")
                    && l.contains(REFUSED)));

            // The one place (--max-clients 1) is held by an allowed client: a refused one is still closed at
            // once, and takes no place; the next allowed client gets it when the first leaves.
            try (Socket holder = new Socket()) {
                holder.bind(new InetSocketAddress("127.0.0.2", 0));
                holder.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                holder.setSoTimeout(10_000);
                assertEquals(0x4e, holder.getInputStream().read());
                long start = System.nanoTime();
                assertEquals(null, firstEightBytes("127.0.0.1", port));
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue("refused after " + millis + " ms", millis < 5000);
            }
            assertEquals(Long.valueOf(Nbd.NBDMAGIC), firstEightBytes("127.0.0.2", port));

            // A flood of refused connections makes a bounded number of lines; the count comes at the end.
            for (int i = 0; i < 100; i++) {
                assertEquals(null, firstEightBytes("127.0.0.1", port));
            }
            long logged = lines(proxy.stderr(), REFUSED);
            assertTrue(logged + " lines for 103 refusals", logged > 0 && logged <= 30);
            assertEquals(Integer.valueOf(0), proxy.terminate());
            assertTrue(proxy.stderr(), proxy.stderr().contains("more warnings about refused clients not logged"));
        }
        int open = Peer.freePort();
        try (Proxy proxy = Proxy.startIn(applianceAllowing(" 10.0.0.0/8 , 127.0.0.0/8"), dir(), open, "--demo");
                Peer info = Peer.run(dir(), "nbdinfo", 60, "nbdinfo", "--size", proxy.uri())) {
            assertEquals(info.stderr(), 0, info.exitStatus());
            assertEquals(DEMO_SIZE, info.stdout().trim());
            assertEquals(proxy.stderr(), 0, lines(proxy.stderr(), REFUSED));
        }
    }

    @Test
    public void unixSocketClientsAreLetInByTheirUid() throws Exception {
        int uid = (Integer) Files.getAttribute(Files.createFile(dir().resolve("probe")), "unix:uid");
        int other = uid == 65534 ? 0 : 65534;
        Path socket = dir().resolve("proxy.sock");
        String uri = "nbd+unix:///?socket=" + socket;
        try (Peer proxy = Proxy.launchIn(applianceAllowing("uid:" + uid), dir(), "--demo", "-l", socket.toString())) {
            Proxy.awaitSocket(socket, 20);
            try (Peer info = Peer.run(dir(), "nbdinfo", 60, "nbdinfo", "--size", uri)) {
                assertEquals(info.stderr() + proxy.stderr(), 0, info.exitStatus());
                assertEquals(DEMO_SIZE, info.stdout().trim());
            }
            assertEquals(proxy.stderr(), 0, lines(proxy.stderr(), REFUSED));
        }
        Files.deleteIfExists(socket); // left by the kill: the next proxy's socket is awaited
        try (Peer proxy = Proxy.launchIn(applianceAllowing("uid:" + other + ", 127.0.0.1"), dir(), "--demo", "-l",
                socket.toString())) {
            Proxy.awaitSocket(socket, 20);
            try (Peer info = Peer.run(dir(), "nbdinfo", 60, "nbdinfo", "--size", uri)) {
                assertNotEquals("uid " + uid + " is refused", 0, info.exitStatus());
            }
            String log = proxy.stderr();
            assertTrue(log, log.lines().anyMatch(l -> l.startsWith("W:") && l.contains("UNIX-socket client (user ")
                    && l.contains(REFUSED)));
        }
    }

    @Test
    public void aListNoClientOfTheListenerCanMatchIsSaid() throws Exception {
        Path socket = dir().resolve("proxy.sock");
        try (Peer proxy = Proxy.launchIn(applianceAllowing("127.0.0.1"), dir(), "--demo", "-l", socket.toString())) {
            Proxy.awaitSocket(socket, 20);
            for (int i = 0; i < 100 && !proxy.stderr().contains("every client will be refused"); i++) {
                Thread.sleep(100);
            }
            assertTrue(proxy.stderr(), proxy.stderr().lines().anyMatch(l -> l.startsWith("E:")
                    && l.contains("every client will be refused")));
        }
    }

    @Test
    public void aMalformedEntryMeansNoListener() throws Exception {
        int port = Peer.freePort();
        try (Peer proxy = Proxy.launchIn(applianceAllowing("127.0.0.1, localhost"), dir(), "--demo", "-l",
                "127.0.0.1", "-p", Integer.toString(port))) {
            Integer status = proxy.waitFor(30);
            assertNotNull("the proxy did not exit", status);
            assertEquals(proxy.stderr(), 1, status.intValue());
            assertTrue(proxy.stderr(), proxy.stderr().lines().anyMatch(l -> l.startsWith("E:")
                    && l.contains("allow entry 'localhost'")));
        }
    }
}
