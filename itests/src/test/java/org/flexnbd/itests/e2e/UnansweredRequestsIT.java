package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Requests left unanswered by an upstream that closes, or that stops answering for longer than --upstream-timeout,
 * are sent again, exactly as the client sent them, to the next connection; the client gets one right reply.
 */
public class UnansweredRequestsIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private ScriptedUpstream upstream;
    private Proxy proxy;
    private ScriptedClient client;

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    private void start(ScriptedUpstream.Fault fault, int holdUntil) throws Exception {
        upstream = new ScriptedUpstream(fault, holdUntil);
        proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(upstream.port()), "--upstream-timeout", "2", "-v");
        client = new ScriptedClient(proxy.port);
    }

    @After
    public void stop() throws IOException {
        if (client != null) {
            client.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    public void readLeftUnansweredByAClosingUpstreamIsSentAgain() throws Exception {
        start(ScriptedUpstream.Fault.CLOSE_ON_READ, 0);
        assertReadAfterWriteSurvives();
    }

    @Test
    public void readLeftUnansweredByAStalledUpstreamIsSentAgainAfterTheTimeout() throws Exception {
        start(ScriptedUpstream.Fault.STALL_ON_READ, 0);
        assertReadAfterWriteSurvives();
        assertTrue(proxy.stderr(), proxy.stderr().contains("no progress"));
    }

    @Test
    public void writeLeftUnansweredByAClosingUpstreamIsSentAgain() throws Exception {
        start(ScriptedUpstream.Fault.CLOSE_ON_WRITE, 0);
        assertWriteSurvives();
    }

    @Test
    public void writeLeftUnansweredByAStalledUpstreamIsSentAgainAfterTheTimeout() throws Exception {
        start(ScriptedUpstream.Fault.STALL_ON_WRITE, 0);
        assertWriteSurvives();
        assertTrue(proxy.stderr(), proxy.stderr().contains("no progress"));
    }

    /**
     * A slow server, not a dead one: the proxy gives its connection up at the timeout and sends the WRITE again on the
     * next, but the server still carries out the copy it had read. Sent again at once, the WRITE was answered, the
     * client wrote the same block anew, and then the old copy landed on it: the block read back the older data.
     */
    @Test
    public void aWriteOnAConnectionGivenUpLandsBeforeItIsSentAgain() throws Exception {
        start(ScriptedUpstream.Fault.LATE_WRITE, 0);
        assertEquals(0, client.call(ScriptedClient.write(1, 0, (byte) 0x11, 4096)).error());
        assertEquals(0, client.call(ScriptedClient.write(2, 0, (byte) 0x22, 4096)).error());
        Thread.sleep(5000); // past the old copy's landing, had it been left to land late
        Reply r = client.call(ScriptedClient.read(3, 0, 4096));
        assertEquals(0, r.error());
        assertEquals(proxy.stderr(), 0x22, r.data().get(0));
        assertTrue(proxy.stderr(), proxy.stderr().contains("no progress"));
    }

    @Test
    public void anUpstreamErrorPassesThroughAndAReadErrorCarriesNoData() throws Exception {
        start(ScriptedUpstream.Fault.EIO_ON_READ, 0);
        assertEquals(Nbd.EIO, client.call(ScriptedClient.read(3, 0, 65536)).error());
        // Had the error reply carried data, this reply would be read out of step.
        Reply next = client.call(ScriptedClient.read(4, 0, 4096));
        assertEquals(0, next.error());
        assertEquals(4096, next.data().remaining());
        assertEquals("an error is an answer, not a reason to reconnect: " + proxy.stderr(), 1, upstream.connections());
    }

    @Test
    public void eshutdownMakesTheProxyReconnectAndSendAgain() throws Exception {
        start(ScriptedUpstream.Fault.ESHUTDOWN_ON_WRITE, 0);
        assertWriteSurvives();
    }

    /**
     * A server going away answers ESHUTDOWN to a request but still answers what it accepted before: the proxy takes
     * those answers, disconnects cleanly, and sends only the refused request again.
     */
    @Test
    public void eshutdownIsASoftDisconnect() throws Exception {
        // The upstream holds its replies until it has two requests (or 2 s, the proxy's timeout, pass).
        start(ScriptedUpstream.Fault.ESHUTDOWN_ON_WRITE, 2);
        client.send(ScriptedClient.read(8, 0, 4096)); // held until the WRITE is refused, then answered
        client.send(ScriptedClient.write(7, 1 << 20, (byte) 0x44, 1 << 20));
        Reply first = client.next();
        assertEquals("the READ's answer from the first connection", 8, first.cookie());
        assertEquals(0, first.error());
        // Queued behind the refused WRITE: the two make the second connection's pair.
        client.send(ScriptedClient.read(9, 1 << 20, 4096));
        Map<Long, Reply> replies = new HashMap<>();
        for (int i = 0; i < 2; i++) {
            Reply r = client.next();
            replies.put(r.cookie(), r);
        }
        assertEquals(0, replies.get(7L).error());
        byte[] expected = new byte[4096];
        Arrays.fill(expected, (byte) 0x44);
        assertArrayEquals(expected, bytes(replies.get(9L).data()));
        assertSentTwiceAlike(Nbd.CMD_WRITE, 7);
        List<Request> seen = upstream.received();
        assertEquals("the READ was answered before the disconnect, not sent again: " + seen, 1,
                seen.stream().filter(r -> r.cookie() == 8).count());
        List<Request> firstConnection = upstream.receivedOn(1);
        List<Request> secondConnection = upstream.receivedOn(2);
        assertEquals("a DISCONNECT ended the first connection: " + seen, Nbd.CMD_DISC,
                firstConnection.get(firstConnection.size() - 1).type());
        assertEquals("the refused WRITE came first on the next connection: " + seen, 7,
                secondConnection.get(0).cookie());
        assertEquals(Nbd.CMD_WRITE, secondConnection.get(0).type());
        assertTrue(proxy.stderr(), proxy.stderr().contains("ESHUTDOWN"));
    }

    /**
     * A structured reply that breaks the protocol (here a data chunk outside the READ) is never an answer: the proxy
     * logs the violation, gives the connection up, and the READ sent again to the next connection gets the data.
     */
    @Test
    public void aReplyBreakingTheProtocolFailsTheConnectionAndTheRequestIsSentAgain() throws Exception {
        start(ScriptedUpstream.Fault.STRAY_DATA_ON_READ, 0);
        assertTrue("the client takes structured replies, which the proxy would have passed on as they came",
                client.export.structuredReplies());
        assertReadAfterWriteSurvives();
        String warning = proxy.stderr().lines()
                .filter(l -> l.contains("protocol violation: cookie 0000000000000002: OFFSET_DATA")).findFirst()
                .orElse("");
        assertTrue(proxy.stderr(), warning.startsWith("W:") && warning.contains("lies outside READ [8192, +65536)"));
    }

    @Test
    public void manyRequestsAreInFlightAtOnce() throws Exception {
        start(ScriptedUpstream.Fault.NONE, 16);
        for (int i = 0; i < 16; i++) {
            client.send(ScriptedClient.read(100 + i, i * 4096L, 4096));
        }
        for (int i = 0; i < 16; i++) {
            assertEquals(0, client.next().error());
        }
        assertTrue("the upstream saw at most " + upstream.maxOutstanding() + " requests outstanding",
                upstream.maxOutstanding() >= 8);
    }

    private void assertReadAfterWriteSurvives() throws Exception {
        assertEquals(0, client.call(ScriptedClient.write(1, 8192, (byte) 0x5a, 65536)).error());
        Reply r = client.call(ScriptedClient.read(2, 8192, 65536));
        assertEquals(0, r.error());
        byte[] expected = new byte[65536];
        Arrays.fill(expected, (byte) 0x5a);
        assertArrayEquals(expected, bytes(r.data()));
        assertSentTwiceAlike(Nbd.CMD_READ, 2);
    }

    private void assertWriteSurvives() throws Exception {
        assertEquals(0, client.call(ScriptedClient.write(7, 1 << 20, (byte) 0x33, 1 << 20)).error());
        Reply r = client.call(ScriptedClient.read(8, 1 << 20, 1 << 20));
        byte[] expected = new byte[1 << 20];
        Arrays.fill(expected, (byte) 0x33);
        assertArrayEquals(expected, bytes(r.data()));
        assertSentTwiceAlike(Nbd.CMD_WRITE, 7);
    }

    /** The retransmission is the request as the client sent it: command, flags, offset, length, cookie, payload. */
    private void assertSentTwiceAlike(int type, long cookie) {
        List<Request> copies = upstream.received().stream().filter(r -> r.type() == type && r.cookie() == cookie)
                .toList();
        assertEquals("copies of the request the upstream received: " + copies, 2, copies.size());
        assertEquals(copies.get(0), copies.get(1));
        assertTrue("a second connection", upstream.connections() >= 2);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }
}
