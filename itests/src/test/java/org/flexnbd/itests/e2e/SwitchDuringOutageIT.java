package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The upstream connector is replaced (an edit of org.flexnbd.upstream.cfg) while the upstream is down, so that the
 * next connector has no connection yet: the clients wait for it, and are served as soon as the upstream is back.
 * Both cases were found by a hostile tester.
 */
public class SwitchDuringOutageIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path dir;
    private Path home;

    @Before
    public void distribution() throws IOException {
        E2E.assumeDistribution();
        dir = tmp.getRoot().toPath();
        home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
    }

    @Test
    public void aClientEndingItsHandshakeBetweenTwoConnectorsIsServedByTheNext() throws Exception {
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "-v");
                SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", proxy.port))) {
            ByteBuffer hello = readFully(client, 18); // NBDMAGIC, IHAVEOPT, the server's flags
            assertEquals(Nbd.NBDMAGIC, hello.getLong(0));

            up.kill9();
            E2E.replaceUpstreamConnector(home, proxy, 500);
            Thread.sleep(1000); // the connector before is gone; the next one cannot connect

            // Fixed newstyle without zeroes, then NBD_OPT_EXPORT_NAME "": the handshake ends with the export's size.
            ByteBuffer go = ByteBuffer.allocate(4 + 16).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)
                    .putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_EXPORT_NAME).putInt(0).flip();
            writeFully(client, go);
            assertEquals(64L << 20, readFully(client, 10).getLong(0));

            up.start();
            // Before, the proxy closed the client here, between the connectors, without a word.
            writeFully(client, RequestCodec.header(Request.of(Nbd.CMD_READ, 0, 7, 0, 4096)));
            ByteBuffer reply = E2E.within(40, () -> readFully(client, 16 + 4096));
            assertEquals(Nbd.SIMPLE_REPLY_MAGIC, reply.getInt(0));
            assertEquals("error", 0, reply.getInt(4));
            assertEquals(7, reply.getLong(8));
        }
    }

    @Test
    public void twoEditsDuringAnOutageDoNotHoldAClientOnceTheUpstreamIsBack() throws Exception {
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "-v");
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            // A READ, not a WRITE: with nothing in the journal a connector stops at once, and each edit is a switch.
            assertEquals(0, c.call(ScriptedClient.read(1, 0, 4096)).error());

            up.kill9();
            E2E.replaceUpstreamConnector(home, proxy, 500);
            Thread.sleep(1000); // the client's move to the second connector now waits for its first connection
            E2E.replaceUpstreamConnector(home, proxy, 600);
            up.start();
            long back = System.nanoTime();
            Reply r = E2E.within(40, () -> c.call(ScriptedClient.read(2, 0, 4096)));
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - back);
            assertEquals(0, r.error());
            // Before, the move to the third connector waited behind the second's connect timeout (15 s): 13 s here.
            assertTrue("answered " + seconds + " s after the upstream came back:\n" + proxy.stderr(), seconds < 6);
        }
    }

    @Test
    public void aConnectorSwitchClosesTheConnectionsItLeaves() throws Exception {
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "-v");
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertEquals(0, c.call(ScriptedClient.read(1, 0, 4096)).error());
            long before = sockets(proxy.process.pid());
            for (int i = 0; i < 6; i++) {
                E2E.replaceUpstreamConnector(home, proxy, 500 + i);
                assertEquals(0, c.call(ScriptedClient.read(2 + i, 0, 4096)).error());
            }
            Thread.sleep(500);
            long after = sockets(proxy.process.pid());
            // Before, each switch left the client's old upstream connection open: 6 more here.
            assertTrue(before + " sockets before 6 switches, " + after + " after", after <= before + 1);
        }
    }

    /**
     * An edit during an outage longer than the connect timeout: the client's move to the next connector cannot open
     * a session in time, and keeps trying. It used to give up after one try, leaving the client in its transmission
     * with no upstream session: its READ was never sent, for minutes after the upstream was back (a hostile tester).
     */
    @Test
    public void aClientWaitsForTheNextConnectorThroughAnOutageLongerThanTheConnectTimeout() throws Exception {
        E2E.editConfig(home, "org.flexnbd.upstream", "connectTimeoutSeconds", 1);
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "-v");
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertEquals(0, c.call(ScriptedClient.read(1, 0, 4096)).error());

            up.kill9();
            E2E.replaceUpstreamConnector(home, proxy, 500);
            java.util.concurrent.CompletableFuture<Reply> read =
                    E2E.async(() -> c.call(ScriptedClient.read(2, 0, 4096)));
            String log = proxy.awaitStderr(l -> l.contains("cannot open an upstream session"), 20);
            assertTrue("the move did not fail once\n" + log, log.contains("cannot open an upstream session"));
            Thread.sleep(2500); // more tries fail, the upstream still down
            up.start();
            assertEquals(0, read.get(30, TimeUnit.SECONDS).error());
            assertEquals(0, E2E.within(10, () -> c.call(ScriptedClient.read(3, 0, 4096))).error());
        }
    }

    /**
     * A hot update of the cli bundle during an outage: the cli runs its start-up again, which once awaited the
     * upstream's first connection as at the process's start, and ended the proxy (F, exit 1) when the new connector
     * had none; its clients and their acknowledged writes went with it (a hostile tester).
     */
    @Test
    public void aHotUpdateOfTheCliDuringAnOutageLeavesTheProxyServing() throws Exception {
        E2E.editConfig(home, "org.flexnbd.upstream", "connectTimeoutSeconds", 1);
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "-v");
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertEquals(0, c.call(ScriptedClient.read(1, 0, 4096)).error());
            up.kill9();
            E2E.replaceUpstreamConnector(home, proxy, 500);
            Path staged = home.resolve("deploy/.flexnbd-cli.jar.tmp");
            java.nio.file.Files.copy(home.resolve("bundle/flexnbd-cli.jar"), staged);
            java.nio.file.Files.move(staged, home.resolve("deploy/flexnbd-cli.jar"),
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            String log = proxy.awaitStderr(l -> l.contains("started again in a running appliance")
                    || l.contains("cannot connect to upstream"), 30);
            Thread.sleep(3000); // beyond the connect timeout
            assertTrue("the proxy ended\n" + log, proxy.process.isAlive());
            up.start();
            assertEquals(0, E2E.within(30, () -> c.call(ScriptedClient.read(2, 0, 4096))).error());
        }
    }

    private static long sockets(long pid) throws IOException {
        try (var fds = java.nio.file.Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return fds.filter(fd -> {
                try {
                    return java.nio.file.Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (IOException gone) {
                    return false;
                }
            }).count();
        }
    }

    private static ByteBuffer readFully(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("the proxy closed the connection " + b.position() + " bytes into " + n);
            }
        }
        return b.flip();
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
