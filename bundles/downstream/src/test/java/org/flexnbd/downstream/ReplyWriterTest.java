package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.service.RequestLedger;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * A client's reply writer over a real socket on 127.0.0.1, the test reading as the client: replies in the order the
 * ledger has them, each reported written only once flushed, and a client that is gone given up.
 */
public class ReplyWriterTest {
    private static final ExportInfo EXPORT = ExportInfo.of("", 1 << 20, Nbd.FLAG_HAS_FLAGS);
    private final AtomicLong budgetBack = new AtomicLong();
    private final RequestLedger ledger = new RequestLedger(budgetBack::addAndGet);
    private final AtomicLong relayed = new AtomicLong();
    private final CountDownLatch gone = new CountDownLatch(1);
    private ServerSocketChannel listener;
    private SocketChannel client;
    private SocketChannel proxySide;
    private ReplyWriter writer;
    private Thread thread;
    private long g;

    @Before
    public void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client = SocketChannel.open(listener.getLocalAddress());
        proxySide = listener.accept();
        ReplyTranslation translation = new ReplyTranslation(new ClientAgreement(EXPORT, false, false, Map.of()),
                new UpstreamExport(EXPORT, false, false, Map.of()));
        writer = new ReplyWriter("test-client", ledger, new WireOutput(proxySide, 4096, true), translation,
                new ReadAhead(0), relayed::addAndGet, () -> {
                    ledger.clientLeft();
                    gone.countDown();
                });
        thread = new Thread(writer, "test-writer");
        thread.setDaemon(true);
        g = ledger.begin();
    }

    @After
    public void close() throws Exception {
        ledger.clientLeft(); // ends awaitAnswered
        thread.join(5000);
        client.close();
        proxySide.close();
        listener.close();
    }

    @Test
    public void repliesReachTheClientInTheOrderAnsweredAndAreReportedWrittenOnlyThen() throws Exception {
        for (long cookie = 1; cookie <= 3; cookie++) {
            admitRead(cookie, 512);
        }
        thread.start();
        for (long cookie : new long[] {2, 3, 1}) {
            assertTrue(ledger.answered(g, Reply.simple(cookie, 0, filled(512, (byte) cookie))));
        }
        for (long cookie : new long[] {2, 3, 1}) {
            ByteBuffer reply = readFully(16 + 512);
            assertEquals(Nbd.SIMPLE_REPLY_MAGIC, reply.getInt(0));
            assertEquals(0, reply.getInt(4));
            assertEquals(cookie, reply.getLong(8));
            assertEquals((byte) cookie, reply.get(16 + 511));
        }
        long deadline = System.currentTimeMillis() + 5000;
        while (ledger.inFlight() > 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
        }
        assertEquals("every request written out, and so done", 0, ledger.inFlight());
        assertEquals("each one's budget back", 3 * 512, budgetBack.get());
        assertEquals(3 * 512, relayed.get());
    }

    @Test
    public void theProxysOwnReplyGoesBetweenTheWritersWhole() throws Exception {
        thread.start();
        writer.send(Reply.simple(7, Nbd.EINVAL, null));
        ByteBuffer reply = readFully(16);
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, reply.getInt(0));
        assertEquals(Nbd.EINVAL, reply.getInt(4));
        assertEquals(7, reply.getLong(8));
    }

    @Test
    public void aClientThatIsGoneIsGivenUpAndEverythingItHeldGoesBack() throws Exception {
        // Small buffers, so that a client reading nothing fills them, then closes.
        client.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
        admitRead(1, 1 << 20);
        thread.start();
        client.close();
        assertTrue(ledger.answered(g, Reply.simple(1, 0, filled(1 << 20, (byte) 1))));
        assertTrue("the writer gave the client up", gone.await(10, TimeUnit.SECONDS));
        thread.join(5000);
        assertFalse("and ended", thread.isAlive());
        assertEquals(0, ledger.inFlight());
        assertEquals(1 << 20, budgetBack.get());
    }

    private void admitRead(long cookie, int length) throws Exception {
        Request r = Request.of(Nbd.CMD_READ, 0, cookie, cookie * length, length);
        ledger.admit(r, r, length);
        ledger.nextToSend(g).release(); // the upstream link wrote it
    }

    private static ByteBuffer filled(int bytes, byte value) {
        ByteBuffer b = ByteBuffer.allocate(bytes);
        while (b.hasRemaining()) {
            b.put(value);
        }
        return b.flip();
    }

    private ByteBuffer readFully(int bytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bytes);
        while (b.hasRemaining()) {
            if (client.read(b) < 0) {
                throw new IOException("the writer closed the connection after " + b.position() + " bytes");
            }
        }
        return b.flip();
    }
}
