package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.logging.Logger;

import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.loop.EventLoop;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.UpstreamSession;
import org.flexnbd.protocol.tls.StartTlsChannel;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * A client's transmission phase on a real loop, over a real socket on 127.0.0.1, the test playing the client (and,
 * through the ledger, the upstream's answers): requests read in pieces are admitted whole and in order, replies go
 * out in the order answered and give their budget back only once on the socket, and a client that leaves gives back
 * everything.
 */
public class ClientTransmissionTest {
    private static final ExportInfo EXPORT = ExportInfo.of("", 1 << 20, Nbd.FLAG_HAS_FLAGS);
    private final PayloadBudget budget = new PayloadBudget(64 << 20, 32 << 20);
    private final PayloadBudget.Share share = budget.join();
    private final RequestLedger ledger = new RequestLedger(share::release);
    private final AtomicInteger sends = new AtomicInteger();
    private final AtomicInteger reads = new AtomicInteger();
    private final AtomicInteger emptyReads = new AtomicInteger();
    private final CountDownLatch ended = new CountDownLatch(1);
    private ServerSocketChannel listener;
    private SocketChannel client;
    private SocketChannel proxySide;
    private EventLoop loop;
    private Thread loopThread;
    private ClientTransmission transmission;
    private long g;

    /** The upstream side as the transmission sees it: it is told when the ledger has work, and that is all. */
    private final UpstreamSession upstream = new UpstreamSession() {
        @Override
        public UpstreamExport export() {
            return new UpstreamExport(EXPORT, false, false, Map.of());
        }

        @Override
        public void send(boolean more) {
            sends.incrementAndGet();
        }

        @Override
        public void flush() {
        }

        @Override
        public EventLoop loop() {
            return loop;
        }

        @Override
        public void written() {
        }

        @Override
        public boolean congested() {
            return false;
        }

        @Override
        public void close() {
        }
    };

    @Before
    public void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client = SocketChannel.open(listener.getLocalAddress());
        proxySide = listener.accept();
        loop = new EventLoop();
        loopThread = new Thread(loop, "test-loop");
        loopThread.setDaemon(true);
        loopThread.start();
        ReplyTranslation translation = new ReplyTranslation(new ClientAgreement(EXPORT, false, false, Map.of()),
                new UpstreamExport(EXPORT, false, false, Map.of()));
        transmission = new ClientTransmission("test-client", proxySide, new StartTlsChannel(new Counted(proxySide)),
                ledger, share,
                new ReadAhead(0), translation, new RateLimitedWarnings(Logger.getLogger("test"), "test-client"),
                new ReadClock(), 0, () -> upstream, 1 << 20, 1 << 20, bytes -> { }, ended::countDown);
        g = ledger.begin(null, () -> { });
    }

    @After
    public void close() throws Exception {
        transmission.close();
        ledger.clientLeft();
        loop.stop();
        loopThread.join(5000);
        client.close();
        proxySide.close();
        listener.close();
    }

    /** The client's socket as the transmission reads it, counting its reads (and the empty ones). */
    private final class Counted implements java.nio.channels.ByteChannel, java.nio.channels.GatheringByteChannel {
        private final SocketChannel socket;

        Counted(SocketChannel socket) {
            this.socket = socket;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            int n = socket.read(dst);
            reads.incrementAndGet();
            if (n == 0) {
                emptyReads.incrementAndGet();
            }
            return n;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return socket.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            return socket.write(srcs, offset, length);
        }

        @Override
        public long write(ByteBuffer[] srcs) throws IOException {
            return socket.write(srcs);
        }

        @Override
        public boolean isOpen() {
            return socket.isOpen();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private void start(byte[] early) {
        transmission.start(loop, ByteBuffer.wrap(early));
    }

    private static byte[] request(int type, long cookie, long offset, int length, byte fill) {
        ByteBuffer b = ByteBuffer.allocate(28 + (type == Nbd.CMD_WRITE ? length : 0)).putInt(Nbd.REQUEST_MAGIC)
                .putShort((short) 0).putShort((short) type).putLong(cookie).putLong(offset).putInt(length);
        while (b.hasRemaining()) {
            b.put(fill);
        }
        return b.array();
    }

    /** The first {@code n} requests the ledger gives to send, as the upstream link would take them (5 s at most). */
    private List<Request> sentUpstream(int n) throws InterruptedException {
        List<Request> sent = new ArrayList<>();
        await(() -> {
            Request r = ledger.nextToSend(g);
            if (r != null) {
                sent.add(r);
            }
            return sent.size() == n;
        }, n + " requests sent");
        return sent;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            assertTrue(what + " within 5 s", System.nanoTime() < deadline);
            Thread.sleep(2);
        }
    }

    @Test
    public void requestsArrivingInPiecesAreAdmittedWholeInOrderWithTheirData() throws Exception {
        byte[] first = request(Nbd.CMD_WRITE, 1, 0, 100_000, (byte) 0x11);
        byte[] second = request(Nbd.CMD_READ, 2, 4096, 512, (byte) 0);
        byte[] third = request(Nbd.CMD_WRITE, 3, 8192, 7, (byte) 0x33);
        ByteBuffer all = ByteBuffer.allocate(first.length + second.length + third.length).put(first).put(second)
                .put(third).flip();
        start(new byte[] {all.get(), all.get(), all.get()}); // the handshake's reader had read three bytes
        while (all.hasRemaining()) {
            ByteBuffer piece = all.slice(all.position(), Math.min(all.remaining(), 997));
            all.position(all.position() + client.write(piece));
            Thread.sleep(0, 100_000);
        }
        List<Request> sent = sentUpstream(3);
        assertEquals(List.of(1L, 2L, 3L), sent.stream().map(Request::cookie).toList());
        assertEquals(100_000, sent.get(0).payloadLength());
        for (int i = 0; i < 100_000; i++) {
            assertEquals(0x11, sent.get(0).payload().get(i));
        }
        assertEquals(0x33, sent.get(2).payload().get(6));
        assertTrue("the upstream session was told", sends.get() > 0);
        sent.forEach(Request::release);
    }

    @Test
    public void repliesGoOutInTheOrderAnsweredAndGiveTheirBudgetBackOnlyOnceWritten() throws Exception {
        start(new byte[0]);
        client.write(ByteBuffer.wrap(request(Nbd.CMD_READ, 7, 0, 4096, (byte) 0)));
        client.write(ByteBuffer.wrap(request(Nbd.CMD_READ, 8, 4096, 4096, (byte) 0)));
        List<Request> sent = sentUpstream(2);
        sent.forEach(Request::release);
        assertEquals("charged while in flight", 8192, share.held());
        // The upstream answers the second first.
        loop.execute(() -> {
            ledger.answered(g, Reply.simple(8, 0, ByteBuffer.wrap(filled(4096, (byte) 8))));
            ledger.answered(g, Reply.simple(7, 0, ByteBuffer.wrap(filled(4096, (byte) 7))));
            ledger.announce();
        });
        ByteBuffer got = ByteBuffer.allocate(2 * (16 + 4096));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (got.hasRemaining() && System.nanoTime() < deadline) {
            client.read(got);
        }
        got.flip();
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, got.getInt(0));
        assertEquals(8, got.getLong(8));
        assertEquals(8, got.get(16));
        assertEquals(7, got.getLong(16 + 4096 + 8));
        assertEquals(7, got.get(16 + 4096 + 16));
        await(() -> share.held() == 0, "the budget back once written");
    }

    /**
     * A client with nothing in flight waits for the answer to what it sends (QD1): once its request is read, the
     * socket is not asked again, which would cost a system call per request; its next request, whenever it comes, is
     * read when the selector says so.
     */
    @Test
    public void aClientWithNothingInFlightIsNotAskedAgainAfterItsRequest() throws Exception {
        for (long cookie = 1; cookie <= 3; cookie++) {
            client.write(ByteBuffer.wrap(request(Nbd.CMD_WRITE, cookie, 0, 4096, (byte) cookie)));
            if (cookie == 1) {
                start(new byte[0]); // with the request already there: its first read is not an empty one
            }
            Request sent = sentUpstream(1).get(0);
            assertEquals(cookie, sent.cookie());
            assertEquals(4096, sent.payloadLength());
            sent.release();
            long answering = cookie;
            loop.execute(() -> {
                ledger.answered(g, Reply.simple(answering, 0, ByteBuffer.allocate(0)));
                ledger.announce();
            });
            ByteBuffer reply = ByteBuffer.allocate(16);
            while (reply.hasRemaining()) {
                client.read(reply);
            }
            assertEquals(cookie, reply.getLong(8));
            await(() -> ledger.inFlight() == 0, "the reply written");
            Thread.sleep(20); // the client thinks, as fio at QD1 does between requests
        }
        assertEquals("no read came back empty: " + reads.get() + " reads", 0, emptyReads.get());
    }

    @Test
    public void aClientThatLeavesIsLetGoAndItsPayloadGoesBack() throws Exception {
        start(new byte[0]);
        byte[] half = request(Nbd.CMD_WRITE, 9, 0, 64 * 1024, (byte) 1);
        client.write(ByteBuffer.wrap(half, 0, 28 + 1000)); // a header and a part of its payload
        await(() -> share.held() == 64 * 1024, "the WRITE charged once its header came");
        client.close();
        assertTrue("the transmission ended", ended.await(5, TimeUnit.SECONDS));
        await(() -> share.held() == 0, "its charge given back");
    }

    private static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        java.util.Arrays.fill(a, b);
        return a;
    }
}
