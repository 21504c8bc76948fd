import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A measurement aid for issue 10, not part of the proxy: how cheap could the proxy's data path be, on one event-loop
 * thread, or on two blocking threads?
 *
 * It does the per-request work the proxy cannot skip: it parses every request and reply header, keeps each WRITE's
 * payload in pooled direct memory until the upstream has answered it (what retransmission needs), reads READ
 * payloads into pooled direct memory and writes them on, and gathers what a batch produced into one write per side.
 * It leaves out everything else (the ledger, the journal, validation, structured replies, newstyle handshakes, TLS,
 * reconnecting), so its cost is a floor for each design, to be compared with the proxy and a socat relay in one run:
 *
 *   FLEXNBD_C=bench/experiments/relay-floor bench/pipe.sh --rounds 5
 *   RELAY_FLOOR_MODE=threads FLEXNBD_C=bench/experiments/relay-floor bench/pipe.sh --rounds 5
 *
 * (pipe.sh starts it in the original C proxy's place, against the oldstyle upstream.) Flags as flexnbd-proxy's:
 * -l ADDR -p PORT -C ADDR -P PORT [-q], and --threads for the two-thread mode. Oldstyle upstream only; one client
 * at a time; the client's DISC ends that client and keeps the upstream connection for the next.
 *
 * The default mode is one thread with one selector over the client and its upstream connection. --threads reads
 * requests and writes them upstream on the client's thread, and reads replies and writes them to the client on the
 * upstream's thread, as the proxy did before its reply writer thread (no hand-off between threads per request).
 */
public final class RelayFloor {
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int REPLY_MAGIC = 0x67446698;
    private static final int READ = 0, WRITE = 1, DISC = 2;
    private static final int WIRE = 64 * 1024;
    /** Payloads this small are copied through the wire buffer; larger ones are read straight into their memory. */
    private static final int THROUGH_WIRE = 32 * 1024;

    private final Pool pool = new Pool(new HashMap<>(), ArrayDeque::new);
    private final Map<Long, Request> pending = new HashMap<>();
    private final ArrayDeque<ByteBuffer> toUpstream = new ArrayDeque<>();
    private final ArrayDeque<ByteBuffer> toClient = new ArrayDeque<>();
    private final ByteBuffer[] gather = new ByteBuffer[64];
    private final SocketChannel upstream;
    private final Inbound upstreamIn;
    private Request requestWaitingForPayload;
    private Request replyWaitingForPayload;
    private ByteBuffer replyPayload;

    private static final class Request {
        final ByteBuffer header; // 28 bytes, as received
        final int type;
        final long cookie;
        final int length;
        ByteBuffer payload; // a WRITE's data, kept until its reply

        Request(ByteBuffer header) {
            this.header = header;
            this.type = header.getShort(6) & 0xffff;
            this.cookie = header.getLong(8);
            this.length = header.getInt(24);
        }
    }

    private RelayFloor(SocketChannel upstream) {
        this.upstream = upstream;
        this.upstreamIn = new Inbound(upstream);
    }

    /** One side's input in the loop: its socket, its wire buffer, and whether the socket was found empty this turn. */
    private static final class Inbound {
        static final int WAIT = 0, READY = 1, END = -1;
        final SocketChannel channel;
        final ByteBuffer wire = ByteBuffer.allocateDirect(WIRE).flip();
        /** A read this turn returned less than it asked for: the socket is empty until the selector says otherwise. */
        boolean drained;

        Inbound(SocketChannel channel) {
            this.channel = channel;
        }

        /** At least {@code n} bytes in the wire buffer: READY; WAIT when the socket is empty; END when it closed. */
        int header(int n) throws IOException {
            while (wire.remaining() < n) {
                if (drained) {
                    return WAIT;
                }
                int want = wire.capacity() - wire.remaining();
                int got = fill(channel, wire);
                if (got < 0) {
                    return END;
                }
                drained = got < want;
            }
            return READY;
        }

        /**
         * Fills {@code p}, from the wire buffer first, then straight from the socket if what is missing is large, or
         * through the wire buffer if it is small: READY, WAIT or END as for {@link #header}.
         */
        int payload(ByteBuffer p) throws IOException {
            while (true) {
                take(wire, p);
                if (!p.hasRemaining()) {
                    return READY;
                }
                if (drained) {
                    return WAIT;
                }
                boolean direct = p.remaining() > THROUGH_WIRE;
                int want = direct ? p.remaining() : wire.capacity() - wire.remaining();
                int got = direct ? channel.read(p) : fill(channel, wire);
                if (got < 0) {
                    return END;
                }
                drained = got < want;
            }
        }
    }

    public static void main(String[] args) throws IOException {
        String addr = "127.0.0.1", upAddr = null;
        int port = 0, upPort = 0;
        boolean threads = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "-l" -> addr = args[++i];
                case "-p" -> port = Integer.parseInt(args[++i]);
                case "-C" -> upAddr = args[++i];
                case "-P" -> upPort = Integer.parseInt(args[++i]);
                case "-q" -> { }
                case "--threads" -> threads = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        SocketChannel upstream = SocketChannel.open(new InetSocketAddress(upAddr, upPort));
        upstream.socket().setTcpNoDelay(true);
        ByteBuffer greeting = ByteBuffer.allocate(152);
        while (greeting.hasRemaining()) {
            if (upstream.read(greeting) < 0) {
                throw new IOException("upstream closed during its greeting");
            }
        }
        if (greeting.getLong(0) != 0x4e42444d41474943L || greeting.getLong(8) != 0x00420281861253L) {
            throw new IOException("not an oldstyle NBD server");
        }
        RelayFloor relay = new RelayFloor(upstream);
        Threaded threaded = threads ? new Threaded(upstream) : null;
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(addr, port));
            while (true) {
                try (SocketChannel client = listener.accept()) {
                    client.socket().setTcpNoDelay(true);
                    client.write(greeting.duplicate().flip());
                    if (threaded != null) {
                        threaded.serve(client);
                    } else {
                        relay.serve(client);
                    }
                } catch (IOException e) {
                    System.err.println("client gone: " + e.getMessage());
                }
            }
        }
    }

    private void serve(SocketChannel client) throws IOException {
        Inbound clientIn = new Inbound(client);
        client.configureBlocking(false);
        upstream.configureBlocking(false);
        try (Selector selector = Selector.open()) {
            SelectionKey clientKey = client.register(selector, SelectionKey.OP_READ);
            SelectionKey upstreamKey = upstream.register(selector, SelectionKey.OP_READ);
            boolean open = true;
            boolean gone = false; // the client's socket failed: replies still due are read and dropped
            while (open || !pending.isEmpty() || replyWaitingForPayload != null
                    || (!gone && !toClient.isEmpty())) {
                selector.select();
                // Only a key in the selected set has fresh ready bits, and it stays there until removed.
                var ready = selector.selectedKeys();
                boolean clientReadable = ready.contains(clientKey) && clientKey.isReadable();
                boolean upstreamReadable = ready.contains(upstreamKey) && upstreamKey.isReadable();
                ready.clear();
                try {
                    if (open && clientReadable) {
                        open = clientSide(() -> readRequests(clientIn));
                        if (!open) {
                            clientKey.interestOps(clientKey.interestOps() & ~SelectionKey.OP_READ);
                        }
                    }
                    if (upstreamReadable) {
                        readReplies();
                    }
                    writeSome(upstream, toUpstream, upstreamKey, false);
                    if (!gone) {
                        clientSide(() -> {
                            writeSome(client, toClient, clientKey, true);
                            return true;
                        });
                    }
                } catch (ClientGone e) {
                    System.err.println("client gone: " + e.getMessage());
                    open = false;
                    gone = true;
                    clientKey.interestOps(0);
                }
                if (gone) {
                    toClient.forEach(pool::release);
                    toClient.clear();
                }
            }
            if (requestWaitingForPayload != null) {
                pool.release(requestWaitingForPayload.payload);
                requestWaitingForPayload = null;
            }
            clientKey.cancel();
            upstreamKey.cancel();
            selector.selectNow();
        }
        upstream.configureBlocking(true);
    }

    /** A failure of the client's socket, told apart from the upstream's. */
    private static final class ClientGone extends IOException {
        ClientGone(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private interface ClientIo {
        boolean run() throws IOException;
    }

    private static boolean clientSide(ClientIo io) throws ClientGone {
        try {
            return io.run();
        } catch (ClientGone e) {
            throw e;
        } catch (IOException e) {
            throw new ClientGone(e);
        }
    }

    /** Parses what has arrived; false once the client has sent DISC or closed. */
    private boolean readRequests(Inbound in) throws IOException {
        in.drained = false;
        while (true) {
            if (requestWaitingForPayload != null) {
                int got = in.payload(requestWaitingForPayload.payload);
                if (got != Inbound.READY) {
                    return got == Inbound.WAIT;
                }
                send(requestWaitingForPayload);
                requestWaitingForPayload = null;
            }
            int got = in.header(28);
            if (got != Inbound.READY) {
                return got == Inbound.WAIT;
            }
            if (in.wire.getInt(in.wire.position()) != REQUEST_MAGIC) {
                throw new IOException("bad request magic");
            }
            ByteBuffer header = ByteBuffer.allocate(28);
            take(in.wire, header);
            Request r = new Request(header.flip());
            if (r.type == DISC) {
                return false;
            }
            if (r.type == WRITE) {
                r.payload = pool.memory(r.length);
                requestWaitingForPayload = r;
            } else {
                send(r);
            }
        }
    }

    private void send(Request r) {
        pending.put(r.cookie, r);
        toUpstream.add(r.header.duplicate());
        if (r.payload != null) {
            toUpstream.add(r.payload.flip().duplicate());
        }
    }

    private void readReplies() throws IOException {
        upstreamIn.drained = false;
        while (true) {
            if (replyWaitingForPayload != null) {
                int got = upstreamIn.payload(replyPayload);
                if (got == Inbound.END) {
                    throw new IOException("upstream closed");
                }
                if (got == Inbound.WAIT) {
                    return;
                }
                toClient.add(replyPayload.flip());
                replyWaitingForPayload = null;
            }
            int got = upstreamIn.header(16);
            if (got == Inbound.END) {
                throw new IOException("upstream closed");
            }
            if (got == Inbound.WAIT) {
                return;
            }
            if (upstreamIn.wire.getInt(upstreamIn.wire.position()) != REPLY_MAGIC) {
                throw new IOException("bad reply magic");
            }
            ByteBuffer header = ByteBuffer.allocate(16);
            take(upstreamIn.wire, header);
            Request r = pending.remove(header.getLong(8));
            if (r == null) {
                throw new IOException("reply to nothing sent");
            }
            toClient.add(header.flip());
            if (r.payload != null) {
                pool.release(r.payload);
            }
            if (r.type == READ && header.getInt(4) == 0) {
                replyPayload = pool.memory(r.length);
                replyWaitingForPayload = r;
            }
        }
    }

    /** Gathering writes until the queue is empty or the socket full; pooled buffers written out go back. */
    private void writeSome(SocketChannel ch, ArrayDeque<ByteBuffer> queue, SelectionKey key, boolean release)
            throws IOException {
        boolean full = false;
        while (!queue.isEmpty() && !full) {
            int n = 0;
            for (ByteBuffer b : queue) {
                gather[n++] = b;
                if (n == gather.length) {
                    break;
                }
            }
            ch.write(gather, 0, n);
            full = gather[n - 1].hasRemaining();
            while (!queue.isEmpty() && !queue.peekFirst().hasRemaining()) {
                ByteBuffer done = queue.pollFirst();
                if (release) {
                    pool.release(done);
                }
            }
        }
        java.util.Arrays.fill(gather, null);
        int ops = queue.isEmpty() ? key.interestOps() & ~SelectionKey.OP_WRITE
                : key.interestOps() | SelectionKey.OP_WRITE;
        if (ops != key.interestOps()) {
            key.interestOps(ops);
        }
    }

    private static int fill(SocketChannel ch, ByteBuffer in) throws IOException {
        in.compact();
        try {
            return ch.read(in);
        } finally {
            in.flip();
        }
    }

    private static void take(ByteBuffer from, ByteBuffer to) {
        int n = Math.min(from.remaining(), to.remaining());
        if (n > 0) {
            to.put(from.slice(from.position(), n));
            from.position(from.position() + n);
        }
    }

    /**
     * Payload memory: under 8 KiB on the heap, larger from free lists by size, the most recently freed first, at most
     * 128 kept a size. The loop's is its thread's alone; the two threads share theirs.
     */
    private static final class Pool {
        private final Map<Integer, Deque<ByteBuffer>> free;
        private final Supplier<Deque<ByteBuffer>> newList;

        Pool(Map<Integer, Deque<ByteBuffer>> free, Supplier<Deque<ByteBuffer>> newList) {
            this.free = free;
            this.newList = newList;
        }

        ByteBuffer memory(int length) {
            if (length < 8192) {
                return ByteBuffer.allocate(length);
            }
            Deque<ByteBuffer> list = free.get(length);
            ByteBuffer b = list == null ? null : list.pollLast();
            return b != null ? b.clear() : ByteBuffer.allocateDirect(length);
        }

        void release(ByteBuffer b) {
            if (b.isDirect()) {
                Deque<ByteBuffer> list = free.computeIfAbsent(b.capacity(), k -> newList.get());
                if (list.size() < 128) {
                    list.addLast(b);
                }
            }
        }
    }

    /**
     * The same work on two threads with blocking sockets, one per direction, as the proxy's threads do it (without
     * its third, the reply writer): requests are read and written upstream on one, replies read and written to the
     * client on the other, each side's writes gathered while more has already arrived.
     */
    private static final class Threaded {
        private final SocketChannel upstream;
        private final Map<Long, Request> pending = new java.util.concurrent.ConcurrentHashMap<>();
        private final Pool pool = new Pool(new java.util.concurrent.ConcurrentHashMap<>(),
                java.util.concurrent.ConcurrentLinkedDeque::new);
        private final java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicLong answered = new java.util.concurrent.atomic.AtomicLong();
        private volatile SocketChannel client;
        /** Replies the reply thread has written and not yet counted in {@link #answered}. */
        private int unannounced;

        /** The reply thread lives as long as the upstream connection, serving whichever client is current. */
        Threaded(SocketChannel upstream) {
            this.upstream = upstream;
            Thread replies = new Thread(() -> {
                try {
                    relayReplies();
                } catch (IOException e) {
                    e.printStackTrace();
                    System.exit(1);
                }
            }, "replies");
            replies.setDaemon(true);
            replies.start();
        }

        void serve(SocketChannel client) throws IOException {
            this.client = client;
            try {
                relayRequests();
            } finally {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (answered.get() != sent.get() && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
            }
        }

        private void relayRequests() throws IOException {
            ByteBuffer in = ByteBuffer.allocateDirect(WIRE).flip();
            ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
            while (true) {
                if (!need(client, in, 28, out, upstream)) {
                    return;
                }
                ByteBuffer header = ByteBuffer.allocate(28);
                take(in, header);
                Request r = new Request(header.flip());
                if (r.type == DISC) {
                    flush(out, upstream, false);
                    return;
                }
                if (r.type == WRITE) {
                    r.payload = pool.memory(r.length);
                    take(in, r.payload);
                    if (r.payload.hasRemaining()) {
                        flush(out, upstream, false);
                        readFully(client, r.payload);
                    }
                    r.payload.flip();
                }
                pending.put(r.cookie, r);
                sent.incrementAndGet();
                out.add(r.header.duplicate());
                if (r.payload != null) {
                    out.add(r.payload.duplicate());
                }
            }
        }

        private void relayReplies() throws IOException {
            ByteBuffer in = ByteBuffer.allocateDirect(WIRE).flip();
            ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
            while (true) {
                if (!need(upstream, in, 16, out, client)) {
                    throw new IOException("upstream closed");
                }
                ByteBuffer header = ByteBuffer.allocate(16);
                take(in, header);
                header.flip();
                Request r = pending.remove(header.getLong(8));
                if (r == null) {
                    throw new IOException("reply to nothing sent");
                }
                unannounced++;
                out.add(header);
                if (r.payload != null) {
                    pool.release(r.payload);
                }
                if (r.type == READ && header.getInt(4) == 0) {
                    ByteBuffer payload = pool.memory(r.length);
                    take(in, payload);
                    if (payload.hasRemaining()) {
                        flush(out, client, true);
                        readFully(upstream, payload);
                    }
                    out.add(payload.flip());
                }
            }
        }

        /** Makes n bytes available, writing what was gathered before waiting; false at the end of the stream. */
        private boolean need(SocketChannel from, ByteBuffer in, int n, ArrayDeque<ByteBuffer> out, SocketChannel to)
                throws IOException {
            while (in.remaining() < n) {
                flush(out, to, from == upstream);
                if (from == upstream && unannounced > 0) {
                    answered.addAndGet(unannounced);
                    unannounced = 0;
                }
                if (fill(from, in) < 0) {
                    return false;
                }
            }
            return true;
        }

        private static void readFully(SocketChannel from, ByteBuffer dst) throws IOException {
            while (dst.hasRemaining()) {
                if (from.read(dst) < 0) {
                    throw new IOException("closed mid-payload");
                }
            }
        }

        private void flush(ArrayDeque<ByteBuffer> out, SocketChannel to, boolean release) throws IOException {
            if (out.isEmpty()) {
                return;
            }
            if (release) { // to the client: one that has gone only loses its replies
                try {
                    write(out, to, true);
                } catch (IOException e) {
                    out.forEach(pool::release);
                    out.clear();
                }
                return;
            }
            write(out, to, false);
        }

        private void write(ArrayDeque<ByteBuffer> out, SocketChannel to, boolean release) throws IOException {
            ByteBuffer[] all = out.toArray(new ByteBuffer[0]);
            int from = 0;
            while (from < all.length) {
                to.write(all, from, Math.min(64, all.length - from));
                while (from < all.length && !all[from].hasRemaining()) {
                    if (release) {
                        pool.release(all[from]);
                    }
                    from++;
                }
            }
            out.clear();
        }

    }
}
