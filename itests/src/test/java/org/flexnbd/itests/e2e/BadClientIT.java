package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * A client that breaks the protocol gets an error reply where the protocol allows one, and is closed where it does
 * not; either way the proxy logs it, loses nothing, and serves the next client.
 */
public class BadClientIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private ScriptedUpstream upstream;
    private Proxy proxy;

    @Before
    public void start() throws Exception {
        E2E.assumeDistribution();
        upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
        proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(upstream.port()), "-v");
    }

    @After
    public void stop() throws IOException {
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    public void aBadMagicClosesThatClientOnly() throws Exception {
        try (ScriptedClient bad = new ScriptedClient(proxy.port)) {
            bad.sendRaw(header(0x12345678, 0, Nbd.CMD_READ, 1, 0, 512));
            assertClosed(bad);
        }
        assertNextClientServed();
        assertTrue(proxy.stderr(), proxy.stderr().contains("bad request magic 0x12345678"));
    }

    @Test
    public void anOversizedReadIsAnsweredAndTheConnectionGoesOn() throws Exception {
        try (ScriptedClient c = new ScriptedClient(proxy.port)) {
            assertEquals(Nbd.EOVERFLOW, c.call(ScriptedClient.read(1, 0, 64 << 20)).error());
            assertEquals(0, c.call(ScriptedClient.read(2, 0, 4096)).error());
        }
    }

    @Test
    public void anOversizedWriteIsAnsweredAndItsPayloadSkipped() throws Exception {
        try (ScriptedClient c = new ScriptedClient(proxy.port)) {
            int length = Nbd.MAX_PAYLOAD + 4096;
            c.expect(Request.of(Nbd.CMD_WRITE, 0, 3, 0, 0));
            c.sendRaw(header(Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 3, 0, length));
            c.sendRaw(ByteBuffer.allocate(length));
            assertEquals(Nbd.EOVERFLOW, c.next().error());
            assertEquals(0, c.call(ScriptedClient.write(4, 0, (byte) 1, 4096)).error());
        }
        assertTrue(upstream.received().stream().noneMatch(r -> r.cookie() == 3));
    }

    @Test
    public void anUnknownCommandGetsEinval() throws Exception {
        try (ScriptedClient c = new ScriptedClient(proxy.port)) {
            c.expect(Request.of(Nbd.CMD_FLUSH, 0, 5, 0, 0));
            c.sendRaw(header(Nbd.REQUEST_MAGIC, 0, 99, 5, 0, 0));
            assertEquals(Nbd.EINVAL, c.next().error());
            assertEquals(0, c.call(ScriptedClient.read(6, 0, 512)).error());
        }
    }

    @Test
    public void aClientVanishingMidPayloadLeavesNothingHalfDone() throws Exception {
        try (ScriptedClient c = new ScriptedClient(proxy.port)) {
            c.sendRaw(header(Nbd.REQUEST_MAGIC, 0, Nbd.CMD_WRITE, 9, 0, 1 << 20));
            c.sendRaw(ByteBuffer.allocate(1000));
        }
        assertNextClientServed();
        assertTrue(upstream.received().stream().noneMatch(r -> r.cookie() == 9));
    }

    @Test
    public void garbageInTheHandshakeClosesThatClientOnly() throws Exception {
        try (java.nio.channels.SocketChannel s = java.nio.channels.SocketChannel
                .open(new java.net.InetSocketAddress("127.0.0.1", proxy.port))) {
            s.write(ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes()));
            ByteBuffer sink = ByteBuffer.allocate(4096);
            long deadline = System.nanoTime() + 10_000_000_000L;
            int n = 0;
            while (n >= 0 && System.nanoTime() < deadline) {
                sink.clear();
                n = s.read(sink);
            }
            assertEquals("the proxy closed the connection", -1, n);
        }
        assertNextClientServed();
    }

    @Test
    public void aCookieReusedWhileInFlightClosesThatClient() throws Exception {
        upstream.close();
        proxy.close();
        upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 2);
        proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(upstream.port()), "-v");
        try (ScriptedClient c = new ScriptedClient(proxy.port)) {
            c.sendRaw(header(Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 42, 0, 512));
            c.sendRaw(header(Nbd.REQUEST_MAGIC, 0, Nbd.CMD_READ, 42, 512, 512));
            assertClosed(c);
        }
        assertTrue(proxy.stderr(), proxy.stderr().contains("reused"));
        assertNextClientServed();
    }

    private void assertNextClientServed() throws IOException {
        try (ScriptedClient next = new ScriptedClient(proxy.port)) {
            assertEquals(0, next.call(ScriptedClient.write(77, 4096, (byte) 7, 4096)).error());
            assertEquals(0, next.call(Request.of(Nbd.CMD_FLUSH, 0, 78, 0, 0)).error());
        }
    }

    private static void assertClosed(ScriptedClient c) throws IOException {
        boolean closed = false;
        try {
            c.next();
        } catch (EOFException | java.net.SocketException e) {
            closed = true;
        }
        assertTrue("the proxy closed the connection", closed);
    }

    private static ByteBuffer header(int magic, int flags, int type, long cookie, long offset, long length) {
        return ByteBuffer.allocate(28).putInt(magic).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt((int) length).flip();
    }
}
