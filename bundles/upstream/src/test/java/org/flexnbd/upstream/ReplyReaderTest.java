package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.protocol.tls.StartTlsChannel;
import org.flexnbd.upstream.Connection.Binding;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * An upstream connection's reader over a real socket on 127.0.0.1, the test playing the server: what each kind of
 * reply does to the connection, the ledger and the journal.
 */
public class ReplyReaderTest {
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH;
    private final WriteJournal journal = new WriteJournal(1 << 20, () -> { });
    private final RequestLedger ledger = new RequestLedger(bytes -> { });
    private final AtomicInteger wakes = new AtomicInteger();
    private ServerSocketChannel listener;
    private SocketChannel server;
    private WireOutput toProxy;
    private Connection c;
    private long g;
    private Thread reader;

    @Before
    public void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        SocketChannel socket = SocketChannel.open(listener.getLocalAddress());
        server = listener.accept();
        toProxy = new WireOutput(server, 4096);
        ProgressChannel channel = new ProgressChannel(socket);
        StartTlsChannel wire = new StartTlsChannel(channel);
        UpstreamExport export = new UpstreamExport(ExportInfo.of("", 1 << 20, FLAGS), false, false, Map.of());
        c = new Connection(channel, wire, new WireInput(wire, Connection.BUFFER, () -> { }, PayloadPool.shared()),
                new WireOutput(wire, Connection.BUFFER, true), export);
        c.join(journal, "test-upstream");
        g = ledger.begin();
        c.bind(new Binding(ledger, g));
        reader = new Thread(new ReplyReader(c, Map.of(), wakes::incrementAndGet, "test-upstream"), "test-reader");
        reader.setDaemon(true);
    }

    @After
    public void close() throws Exception {
        c.fail("test over", true);
        reader.join(5000);
        ledger.clientLeft();
        journal.close();
        server.close();
        listener.close();
    }

    @Test
    public void aReplyToARequestSentHereAnswersItInTheLedger() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        reader.start();
        reply(1, 0, ByteBuffer.allocate(512));
        RequestLedger.Delivery d = answeredWithin(5000);
        assertNotNull("answered within 5 s", d);
        assertEquals(1, d.reply().cookie());
        assertEquals(512, d.reply().payloadBytes());
        d.reply().release();
        ledger.written(d);
        assertFalse(c.isFailed());
    }

    @Test
    public void aReplyToNothingSentIsAProtocolViolationThatFailsTheConnection() throws Exception {
        reader.start();
        reply(99, 0, ByteBuffer.allocate(0));
        reader.join(5000);
        assertFalse("the reader ended", reader.isAlive());
        assertTrue(c.failure(), c.failure().startsWith("protocol violation"));
        assertFalse("an upstream that broke the rules is a failure, not a quiet end", c.isQuiet());
        assertTrue("the writer is woken to see it", wakes.get() > 0);
    }

    @Test
    public void eshutdownQueuesTheRequestForTheNextConnectionAndStopsThisOne() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        reader.start();
        reply(1, Nbd.ESHUTDOWN, ByteBuffer.allocate(0));
        long deadline = System.currentTimeMillis() + 5000;
        while (!c.isRefusing() && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(c.isRefusing());
        assertTrue(ledger.isRefusing(g));
        assertNull("no answer for the client", ledger.takeAnswered());
        long next = ledger.begin();
        Request again = ledger.nextToSend(next);
        assertNotNull("sent again on the next connection", again);
        assertEquals(1, again.cookie());
        again.release();
    }

    @Test
    public void anAcknowledgementAfterALossIsNoAnswerAndTheConnectionIsGivenUp() throws Exception {
        send(Request.of(Nbd.CMD_WRITE_ZEROES, 0, 1, 0, 4096));
        reader.start();
        assertTrue(journal.lost(c.journal().epoch())); // another connection of this epoch was lost
        reply(1, 0, ByteBuffer.allocate(0));
        reader.join(5000);
        assertFalse(reader.isAlive());
        assertTrue(c.failure(), c.failure().contains("acknowledgement arrived after an upstream loss"));
        assertNull("the client is not told", ledger.takeAnswered());
        assertEquals(0, journal.requests());
    }

    /** nbdkit on SIGTERM: ESHUTDOWN to the proxy's own FLUSH is an upstream going away, not one that cannot flush. */
    @Test
    public void eshutdownToTheProxysOwnFlushFailsTheConnectionAndTheJournalStaysOn() throws Exception {
        c.journal().beginOwnFlush();
        reader.start();
        reply(ConnectionJournal.OWN_FLUSH, Nbd.ESHUTDOWN, ByteBuffer.allocate(0));
        reader.join(5000);
        assertFalse("the reader ended", reader.isAlive());
        assertTrue(c.failure(), c.failure().contains("ESHUTDOWN"));
        assertFalse("a loss, so the journal is written again on the next connection", c.isQuiet());
        assertTrue(journal.isOn());
    }

    @Test
    public void theServerClosingEndsTheReaderAndFailsTheConnection() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        reader.start();
        server.close();
        reader.join(5000);
        assertFalse(reader.isAlive());
        assertTrue(c.isFailed());
        assertFalse(c.isQuiet());
        assertTrue(wakes.get() > 0);
    }

    /** The client asks, and the link's writer takes the request from the ledger (the test, as the server, reads nothing). */
    private void send(Request r) throws Exception {
        ledger.admit(r, r, r.payloadLength());
        Request onWire = ledger.nextToSend(g);
        c.journal().writing(onWire);
        onWire.release();
    }

    private RequestLedger.Delivery answeredWithin(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        RequestLedger.Delivery d;
        while ((d = ledger.takeAnswered()) == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
        }
        return d;
    }

    private void reply(long cookie, int error, ByteBuffer data) throws IOException {
        ReplyCodec.writeSimple(toProxy, cookie, error, data);
        toProxy.flush();
    }
}
