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

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.upstream.Connection.Binding;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * An upstream connection's reply pump over a real socket on 127.0.0.1 (non-blocking, as its loop has it), the test
 * playing the server and turning the pump as a loop would: what each kind of reply does to the connection, the
 * ledger and the journal.
 */
public class ReplyPumpTest {
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH;
    private final WriteJournal journal = new WriteJournal(1 << 20, () -> { });
    private final RequestLedger ledger = new RequestLedger(bytes -> { });
    private final AtomicInteger announced = new AtomicInteger();
    private ServerSocketChannel listener;
    private SocketChannel server;
    private WireOutput toProxy;
    private Connection c;
    private long g;
    private ReplyPump pump;

    @Before
    public void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        SocketChannel socket = SocketChannel.open(listener.getLocalAddress());
        server = listener.accept();
        toProxy = new WireOutput(server, 4096);
        c = PlainConnections.over(socket, FLAGS);
        c.join(journal, "test-upstream");
        g = ledger.begin(null, () -> { });
        c.bind(new Binding(ledger, g));
        socket.configureBlocking(false);
        pump = new ReplyPump(c, Map.of(), "test-upstream");
        ledger.listen(announced::incrementAndGet);
    }

    @After
    public void close() throws Exception {
        c.fail("test over", true);
        pump.discard();
        ledger.clientLeft();
        journal.close();
        server.close();
        listener.close();
    }

    @Test
    public void aReplyToARequestSentHereAnswersItInTheLedger() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        reply(1, 0, ByteBuffer.allocate(512));
        RequestLedger.Delivery d = answeredWithin(5000);
        assertNotNull("answered within 5 s", d);
        assertEquals(1, d.reply().cookie());
        assertEquals(512, d.reply().payloadBytes());
        assertTrue("the client's writer is told", announced.get() > 0);
        d.reply().release();
        ledger.written(d);
        assertFalse(c.isFailed());
    }

    @Test
    public void aReplyToNothingSentIsAProtocolViolationThatFailsTheConnection() throws Exception {
        reply(99, 0, ByteBuffer.allocate(0));
        assertEquals(ReplyPump.Outcome.ENDED, pumpUntilEnded());
        assertTrue(c.failure(), c.failure().startsWith("protocol violation"));
        assertFalse("an upstream that broke the rules is a failure, not a quiet end", c.isQuiet());
    }

    @Test
    public void eshutdownQueuesTheRequestForTheNextConnectionAndStopsThisOne() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        reply(1, Nbd.ESHUTDOWN, ByteBuffer.allocate(0));
        long deadline = System.currentTimeMillis() + 5000;
        while (!c.isRefusing() && System.currentTimeMillis() < deadline) {
            pump.readable(c.wire);
            Thread.sleep(5);
        }
        assertEquals("the client's writer is told", 1, announced.get());
        assertTrue(c.isRefusing());
        assertTrue(ledger.isRefusing(g));
        assertNull("no answer for the client", ledger.takeAnswered());
        long next = ledger.begin(null, () -> { });
        Request again = ledger.nextToSend(next);
        assertNotNull("sent again on the next connection", again);
        assertEquals(1, again.cookie());
        again.release();
    }

    @Test
    public void anAcknowledgementAfterALossIsNoAnswerAndTheConnectionIsGivenUp() throws Exception {
        send(Request.of(Nbd.CMD_WRITE_ZEROES, 0, 1, 0, 4096));
        assertTrue(journal.lost(c.journal().epoch())); // another connection of this epoch was lost
        reply(1, 0, ByteBuffer.allocate(0));
        assertEquals(ReplyPump.Outcome.ENDED, pumpUntilEnded());
        assertTrue(c.failure(), c.failure().contains("acknowledgement arrived after an upstream loss"));
        assertNull("the client is not told", ledger.takeAnswered());
        assertEquals(0, journal.requests());
    }

    /** nbdkit on SIGTERM: ESHUTDOWN to the proxy's own FLUSH is an upstream going away, not one that cannot flush. */
    @Test
    public void eshutdownToTheProxysOwnFlushFailsTheConnectionAndTheJournalStaysOn() throws Exception {
        c.journal().beginOwnFlush();
        reply(ConnectionJournal.OWN_FLUSH, Nbd.ESHUTDOWN, ByteBuffer.allocate(0));
        assertEquals(ReplyPump.Outcome.ENDED, pumpUntilEnded());
        assertTrue(c.failure(), c.failure().contains("ESHUTDOWN"));
        assertFalse("a loss, so the journal is written again on the next connection", c.isQuiet());
        assertTrue(journal.isOn());
    }

    @Test
    public void theServerClosingEndsTheReaderAndFailsTheConnection() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        server.close();
        assertEquals(ReplyPump.Outcome.ENDED, pumpUntilEnded());
        assertTrue(c.isFailed());
        assertFalse(c.isQuiet());
    }

    /**
     * The link lets go of the client (a hot update moved it to another link, or it left) while replies are on their
     * way: between the link unbinding the ledger and failing the connection, the loop's reader may read one. It is
     * read past (a READ's data with it, so that the next reply is still found) and dropped: no protocol violation,
     * which would count as an upstream loss and replay the journal (seen with a healthy nbdkit, releases every 4 s).
     */
    @Test
    public void repliesReadAfterTheLinkLetTheClientGoAreReadPastAndDroppedNotAViolation() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        send(Request.of(Nbd.CMD_READ, 0, 2, 512, 512));
        // What UpstreamLink.detach does, in its order, before it decides to replace the connection.
        c.bind(null);
        assertEquals("the connection owes two answers", 2, ledger.release(g));
        reply(1, 0, ByteBuffer.allocate(512));
        reply(2, 0, ByteBuffer.allocate(512));
        pumpFor(300);
        assertFalse(c.failure(), c.isFailed());
        assertNull("both read past", ledger.lookup(g, 2));
        assertNull("and no client is told", ledger.takeAnswered());
        assertEquals(0, announced.get());

        reply(99, 0, ByteBuffer.allocate(0));
        assertEquals(ReplyPump.Outcome.ENDED, pumpUntilEnded());
        assertTrue("a reply to nothing sent is still one", c.failure().startsWith("protocol violation"));
    }

    /**
     * The listener's forced close at the drain bound gives the client's requests back (on its own thread) before the
     * client's loop lets the link go: a reply read meanwhile is dropped, not a reply to nothing sent.
     */
    @Test
    public void aReplyForAClientThatLeftBeforeTheLinkLetItGoIsDroppedNotAViolation() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        ledger.clientLeft();
        assertEquals(1, ledger.awaitedOn(g));
        reply(1, 0, ByteBuffer.allocate(512));
        pumpFor(300);
        assertFalse(c.failure(), c.isFailed());
        assertEquals("read past", 0, ledger.awaitedOn(g));
        assertEquals("the link still learns the connection owes nothing", 0, ledger.release(g));
    }

    /** Turns the pump as the loop would for {@code millis}, or until the connection ends. */
    private void pumpFor(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!c.isFailed() && System.currentTimeMillis() < deadline) {
            pump.readable(c.wire);
            Thread.sleep(5);
        }
    }

    /** The client asks, and the link's writer takes the request from the ledger (the test, as the server, reads nothing). */
    /**
     * A client at QD1: once the reply to its one request is read, nothing more can come but the server's end, which
     * the selector tells, so the socket is not asked again (a system call per request). With a request still owed,
     * it is read until it has nothing.
     */
    @Test
    public void theSocketIsNotAskedAgainWhenNoReplyIsOwed() throws Exception {
        send(Request.of(Nbd.CMD_READ, 0, 1, 0, 512));
        send(Request.of(Nbd.CMD_READ, 0, 2, 0, 512));
        CountingChannel counted = new CountingChannel();
        reply(1, 0, ByteBuffer.allocate(512));
        Thread.sleep(100); // all of it in the socket: one turn of the loop reads it
        assertEquals(ReplyPump.Outcome.DRAINED, pump.readable(counted));
        assertEquals("2 is owed: the socket is asked again, and has nothing", 2, counted.reads);

        reply(2, 0, ByteBuffer.allocate(512));
        Thread.sleep(100);
        assertEquals(ReplyPump.Outcome.DRAINED, pump.readable(counted));
        assertEquals("nothing owed: not asked again", 3, counted.reads);
        RequestLedger.Delivery d;
        int answered = 0;
        while ((d = ledger.takeAnswered()) != null) {
            d.reply().release();
            ledger.written(d);
            answered++;
        }
        assertEquals(2, answered);
        server.close();
        assertEquals("the server's end is still seen when the selector says so", ReplyPump.Outcome.ENDED,
                pumpUntilEnded());
    }

    /** The connection's wire, counting the reads that reach it. */
    private final class CountingChannel implements java.nio.channels.ReadableByteChannel {
        int reads;

        @Override
        public int read(ByteBuffer dst) throws IOException {
            reads++;
            return c.wire.read(dst);
        }

        @Override
        public boolean isOpen() {
            return c.wire.isOpen();
        }

        @Override
        public void close() throws IOException {
            c.wire.close();
        }
    }

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
            pump.readable(c.wire);
            Thread.sleep(5);
        }
        return d;
    }

    /** Turns the pump as the loop would whenever the socket is readable, until the connection ends (5 s at most). */
    private ReplyPump.Outcome pumpUntilEnded() throws InterruptedException {
        long deadline = System.currentTimeMillis() + 5000;
        ReplyPump.Outcome o = pump.readable(c.wire);
        while (o != ReplyPump.Outcome.ENDED && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
            o = pump.readable(c.wire);
        }
        return o;
    }

    private void reply(long cookie, int error, ByteBuffer data) throws IOException {
        ReplyCodec.writeSimple(toProxy, cookie, error, data);
        toProxy.flush();
    }
}
