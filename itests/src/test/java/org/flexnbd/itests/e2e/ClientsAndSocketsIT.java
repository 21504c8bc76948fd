package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import org.flexnbd.protocol.Nbd;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** UNIX sockets on both sides, and how many clients are served at once. */
public class ClientsAndSocketsIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void tools() {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        E2E.assumeTool("nbdinfo");
    }

    private Path dir() {
        return tmp.getRoot().toPath();
    }

    @Test
    public void unixSocketsUpstreamAndDownstream() throws Exception {
        Path upSock = dir().resolve("up.sock");
        Path proxySock = dir().resolve("proxy.sock");
        try (Peer up = Peer.start(dir(), "nbdkit", "nbdkit", "-f", "-U", upSock.toString(), "memory", "32M")) {
            Proxy.awaitSocket(upSock, 10);
            try (Peer proxy = Proxy.launch(dir(), "-l", proxySock.toString(), "-C", upSock.toString())) {
                Proxy.awaitSocket(proxySock, 20);
                try (Peer info = Peer.run(dir(), "nbdinfo", 60, "nbdinfo", "--size",
                        "nbd+unix:///?socket=" + proxySock)) {
                    assertEquals(info.stderr(), 0, info.exitStatus());
                    assertEquals("33554432", info.stdout().trim());
                }
                proxy.signal("TERM");
                assertEquals(Integer.valueOf(0), proxy.waitFor(20));
                assertFalse(Files.exists(proxySock));
            }
        }
    }

    @Test
    public void aSecondClientWaitsWithoutAHelloUntilTheFirstLeaves() throws Exception {
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port()))) {
            ScriptedClient first = new ScriptedClient(proxy.port);
            assertEquals(0, first.call(ScriptedClient.read(1, 0, 512)).error());
            try (SocketChannel second = SocketChannel.open(new InetSocketAddress("127.0.0.1", proxy.port))) {
                second.socket().setSoTimeout(1000);
                ByteBuffer hello = ByteBuffer.allocate(8);
                int early = readWithin(second, hello, 1000);
                assertEquals("no hello while the first client is served", 0, early);
                first.close();
                assertEquals(8, readWithin(second, hello, 10_000));
                assertEquals(Nbd.NBDMAGIC, hello.flip().getLong());
            }
        }
    }

    @Test
    public void severalClientsAtOnceWithMaxClients() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "memory", "32M").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--max-clients", "3");
                ScriptedClient a = new ScriptedClient(proxy.port);
                ScriptedClient b = new ScriptedClient(proxy.port);
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertTrue("CAN_MULTI_CONN passes with --max-clients 3",
                    (a.export.export().transmissionFlags() & Nbd.FLAG_CAN_MULTI_CONN) != 0);
            assertEquals(0, a.call(ScriptedClient.write(1, 0, (byte) 1, 4096)).error());
            assertEquals(0, b.call(ScriptedClient.write(1, 4096, (byte) 2, 4096)).error());
            assertEquals(0, c.call(ScriptedClient.write(1, 8192, (byte) 3, 4096)).error());
            assertEquals(2, a.call(ScriptedClient.read(2, 4096, 4096)).data().get(0));
            assertEquals(3, b.call(ScriptedClient.read(2, 8192, 4096)).data().get(0));
            assertEquals(1, c.call(ScriptedClient.read(2, 0, 4096)).data().get(0));
        }
    }

    /** Bytes read into {@code into} within {@code millis} (non-blocking polls, so that no read outlives the test). */
    private static int readWithin(SocketChannel ch, ByteBuffer into, long millis) throws Exception {
        ch.configureBlocking(false);
        long deadline = System.currentTimeMillis() + millis;
        while (into.hasRemaining() && System.currentTimeMillis() < deadline) {
            if (ch.read(into) < 0) {
                break;
            }
            Thread.sleep(20);
        }
        ch.configureBlocking(true);
        return into.position();
    }
}
