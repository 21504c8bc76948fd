package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.ServerHandshake;
import org.flexnbd.protocol.ServerOffer;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/**
 * An NBD server whose misbehaviour a test chooses: it serves a small memory export with simple replies, and once,
 * on the first READ or WRITE, it can close the connection or stop answering. It records every request it receives
 * and the most it ever had unanswered at once; it can hold replies back until enough requests are in. It can
 * also answer the first READ with EIO, or the first WRITE or FLUSH with ESHUTDOWN (as a server going away does,
 * answering at once the requests it holds), or, offering structured replies, answer the first READ with a data
 * chunk that lies outside the request (and every other READ with one data chunk, as a server should).
 */
final class ScriptedUpstream implements AutoCloseable {
    enum Fault {
        NONE, CLOSE_ON_READ, CLOSE_ON_WRITE, STALL_ON_READ, STALL_ON_WRITE, EIO_ON_READ, ESHUTDOWN_ON_WRITE,
        ESHUTDOWN_ON_FLUSH, STRAY_DATA_ON_READ,
        /** The first WRITE is carried out 4 s late, as a slow server does, even if the proxy has hung up meanwhile. */
        LATE_WRITE
    }

    static final int SIZE = 16 * 1024 * 1024;
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA;

    private final byte[] disk = new byte[SIZE];
    private final ServerSocketChannel server;
    private final Fault fault;
    private final int holdUntil;
    private final AtomicBoolean faultSpent = new AtomicBoolean();
    /** Each request with the number of the connection it came on (1 for the first): threads serve connections. */
    private final List<Seen> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final List<SocketChannel> open = new CopyOnWriteArrayList<>();
    private int outstanding;
    private int maxOutstanding;

    /** {@code holdUntil}: replies wait until this many requests are unanswered (or 2 s pass); 0 to answer at once. */
    ScriptedUpstream(Fault fault, int holdUntil) throws IOException {
        this.fault = fault;
        this.holdUntil = holdUntil;
        server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread t = new Thread(this::accept, "scripted-upstream");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return server.socket().getLocalPort();
    }

    List<Request> received() {
        return received.stream().map(Seen::request).toList();
    }

    /**
     * What came on one connection, in its wire order. Across connections {@link #received()} follows the order the
     * serving threads took the requests in, which need not be the order the proxy sent them in.
     */
    List<Request> receivedOn(int connection) {
        return received.stream().filter(s -> s.connection() == connection).map(Seen::request).toList();
    }

    private record Seen(int connection, Request request) {
    }

    int connections() {
        return connections.get();
    }

    synchronized int maxOutstanding() {
        return maxOutstanding;
    }

    private void accept() {
        try {
            while (true) {
                SocketChannel c = server.accept();
                open.add(c);
                int number = connections.incrementAndGet();
                Thread t = new Thread(() -> serve(c, number), "scripted-upstream-conn");
                t.setDaemon(true);
                t.start();
            }
        } catch (IOException closed) {
            // stopped
        }
    }

    private void serve(SocketChannel c, int number) {
        try (c) {
            WireInput in = new WireInput(c, 1 << 16);
            WireOutput out = new WireOutput(c, 1 << 16);
            ServerOffer offer = new ServerOffer(ExportInfo.of("", SIZE, FLAGS), fault == Fault.STRAY_DATA_ON_READ,
                    List.of());
            ClientAgreement agreement = ServerHandshake.newstyle(in, out, offer);
            if (agreement == null) {
                return;
            }
            boolean structured = agreement.structuredReplies();
            BlockingQueue<Request> arriving = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> readAll(in, arriving), "scripted-upstream-reader");
            reader.setDaemon(true);
            reader.start();
            List<Request> held = new ArrayList<>();
            while (true) {
                Request r = held.isEmpty() ? arriving.take() : arriving.poll(2, TimeUnit.SECONDS);
                if (r == END) {
                    return;
                }
                if (r != null) {
                    received.add(new Seen(number, r));
                    if (r.type() == Nbd.CMD_DISC) {
                        return;
                    }
                    if (fault == Fault.LATE_WRITE && r.type() == Nbd.CMD_WRITE && faultSpent.compareAndSet(false,
                            true)) {
                        Thread.sleep(4000);
                        answer(r, out, structured); // on the disk first: the reply may find the socket gone
                        out.flush();
                        continue;
                    }
                    if (misbehave(r, c, structured)) {
                        if (!c.isOpen()) {
                            return;
                        }
                        if (fault == Fault.ESHUTDOWN_ON_WRITE || fault == Fault.ESHUTDOWN_ON_FLUSH) {
                            answerAll(held, out, structured); // going away, it still finishes what it had accepted
                        }
                        continue;
                    }
                    held.add(r);
                    synchronized (this) {
                        outstanding++;
                        maxOutstanding = Math.max(maxOutstanding, outstanding);
                    }
                }
                if (r == null || held.size() >= holdUntil) {
                    answerAll(held, out, structured);
                }
            }
        } catch (IOException e) {
            // the proxy closed or reset the connection: that is what some tests do
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void answerAll(List<Request> held, WireOutput out, boolean structured) throws IOException {
        for (Request h : held) {
            answer(h, out, structured);
        }
        out.flush();
        synchronized (this) {
            outstanding -= held.size();
        }
        held.clear();
    }

    private static final Request END = Request.of(Nbd.CMD_DISC, 0, -1, 0, 0);

    private static void readAll(WireInput in, BlockingQueue<Request> to) {
        try {
            for (Request r = RequestCodec.read(in, Nbd.MAX_PAYLOAD); r != null; r = RequestCodec.read(in,
                    Nbd.MAX_PAYLOAD)) {
                to.add(r);
            }
        } catch (IOException e) {
            // closed
        }
        to.add(END);
    }

    private boolean misbehave(Request r, SocketChannel c, boolean structured) throws IOException {
        boolean read = r.type() == Nbd.CMD_READ;
        boolean write = r.type() == Nbd.CMD_WRITE;
        boolean close = (fault == Fault.CLOSE_ON_READ && read) || (fault == Fault.CLOSE_ON_WRITE && write);
        boolean stall = (fault == Fault.STALL_ON_READ && read) || (fault == Fault.STALL_ON_WRITE && write);
        boolean stray = fault == Fault.STRAY_DATA_ON_READ && read && structured;
        int error = fault == Fault.EIO_ON_READ && read ? Nbd.EIO
                : (fault == Fault.ESHUTDOWN_ON_WRITE && write)
                        || (fault == Fault.ESHUTDOWN_ON_FLUSH && r.type() == Nbd.CMD_FLUSH) ? Nbd.ESHUTDOWN : 0;
        if (!(close || stall || stray || error != 0) || !faultSpent.compareAndSet(false, true)) {
            return false;
        }
        if (stray) {
            // Just past the end of the request, and claiming to be the whole answer.
            WireOutput out = new WireOutput(c, 1024);
            ReplyCodec.writeChunk(out, Chunks.offsetData(r.cookie(), Nbd.REPLY_FLAG_DONE, r.offset() + r.length(),
                    ByteBuffer.allocate(512)));
            out.flush();
            return true;
        }
        if (error != 0) {
            WireOutput out = new WireOutput(c, 64);
            ReplyCodec.writeSimple(out, r.cookie(), error, null);
            out.flush();
            return true;
        }
        if (close) {
            c.close();
        }
        return true; // a stalled request is simply never answered on this connection
    }

    private void answer(Request r, WireOutput out, boolean structured) throws IOException {
        long end = r.offset() + r.length();
        if (r.offset() < 0 || end > SIZE) {
            if (structured && r.type() == Nbd.CMD_READ) {
                ReplyCodec.writeChunk(out, Chunks.error(r.cookie(), Nbd.REPLY_FLAG_DONE, Nbd.EINVAL, "beyond the end"));
            } else {
                ReplyCodec.writeSimple(out, r.cookie(), Nbd.EINVAL, null);
            }
            return;
        }
        synchronized (disk) {
            switch (r.type()) {
                case Nbd.CMD_READ -> {
                    ByteBuffer data = ByteBuffer.wrap(disk, (int) r.offset(), (int) r.length()).slice();
                    if (structured) { // the spec forbids a simple reply to READ then
                        ReplyCodec.writeChunk(out,
                                Chunks.offsetData(r.cookie(), Nbd.REPLY_FLAG_DONE, r.offset(), data));
                    } else {
                        ReplyCodec.writeSimple(out, r.cookie(), 0, data);
                    }
                }
                case Nbd.CMD_WRITE -> {
                    r.payload().get(disk, (int) r.offset(), (int) r.length());
                    ReplyCodec.writeSimple(out, r.cookie(), 0, null);
                }
                default -> ReplyCodec.writeSimple(out, r.cookie(), 0, null);
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (SocketChannel c : open) {
            c.close();
        }
    }
}
