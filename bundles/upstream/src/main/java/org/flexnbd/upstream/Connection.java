package org.flexnbd.upstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.flexnbd.protocol.tls.StartTlsChannel;
import org.flexnbd.protocol.tls.SecureChannel;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.WriteJournal;

/**
 * One negotiated upstream connection. It fails once: the first reason given is kept, the socket is closed, and the
 * link's loop and its connecting thread see it end.
 */
final class Connection {
    /**
     * Small: a payload larger than half of it bypasses it, so it holds headers and small payloads only, and each
     * client served has a connection of its own: hundreds of them must fit the heap beside the payload budget.
     */
    static final int BUFFER = 16 * 1024;

    /** The ledger this connection works for, under which generation token. */
    record Binding(RequestLedger ledger, long token) {
    }

    final ProgressChannel channel;
    /** The connection as the wire reads and writes it: TLS once the server agreed to STARTTLS. */
    final StartTlsChannel wire;
    /**
     * The blocking reader and writer of the handshake and of a replay of the journal, on the connecting thread; let go
     * once the loop serves the connection ({@link #servedByLoop}), which reads and writes through buffers of its
     * own: a connection that lasts for days need not hold two idle buffers.
     */
    private volatile WireInput in;
    private volatile WireOutput out;
    final UpstreamExport export;
    private volatile String failure;
    private volatile boolean quiet;
    /**
     * Set once requests may have been written on it (the journal written again, or the loop serving it): from then on
     * a failure only shuts it for sending, and {@link #fence} waits for the server to close it.
     */
    private volatile boolean sent;
    private volatile long failedNanos;
    private volatile String disconnectReason;
    private volatile boolean disconnectQuietly;
    private volatile boolean delivered;
    private volatile boolean refusing;
    private volatile Binding binding;
    /**
     * The bindings it stopped working for while they may still be owed replies (the client left, or moved to another
     * link, with requests written here and not answered): their late replies are still decoded, and dropped, until
     * the connection ends. Usually empty; such a connection serves nobody else (the link replaces it).
     */
    private final List<Binding> letGo = new CopyOnWriteArrayList<>();
    private final long openedNanos = System.nanoTime();
    /** Its part in the write journal, from when the link takes it into use. */
    private volatile ConnectionJournal journal;

    Connection(ProgressChannel channel, StartTlsChannel wire, WireInput in, WireOutput out, UpstreamExport export) {
        this.channel = channel;
        this.wire = wire;
        this.in = in;
        this.out = out;
        this.export = export;
    }

    WireInput in() {
        return in;
    }

    WireOutput out() {
        return out;
    }

    /**
     * The loop serves the connection from now on: what the blocking reader had read beyond what was asked of it
     * (bytes nobody asked for), after which the blocking reader and writer are let go.
     */
    int servedByLoop() {
        int unasked = in.buffered();
        in = null;
        out = null;
        sent = true;
        return unasked;
    }

    /** The journal is about to be written again on it, by its connecting thread's blocking writer. */
    void replaying() {
        sent = true;
    }

    /**
     * A DISCONNECT is about to be written: whatever ends the connection from then on (the server closing it first,
     * as it may) ends it for this reason.
     */
    void disconnecting(String reason, boolean quietly) {
        disconnectQuietly = quietly;
        disconnectReason = reason;
    }

    /**
     * Ends the connection; {@code quietly} when nothing went wrong (a client left, a DISCONNECT). Once requests were
     * written on it, it is only shut for sending: the server may still be carrying out requests it read, and
     * {@link #fence} waits for it to close its end before anything is sent again elsewhere (a blocking reader of a
     * replay still reads its answer, or its end). Otherwise (only the handshake's blocking reader waits on it) it is
     * closed.
     */
    synchronized void fail(String reason, boolean quietly) {
        if (failure == null) {
            String asked = disconnectReason;
            failure = asked != null ? asked : reason;
            quiet = asked != null ? disconnectQuietly : quietly;
            failedNanos = System.nanoTime();
        }
        try {
            if (sent && channel.socket().isOpen()) {
                channel.socket().shutdownOutput();
            } else {
                channel.close();
            }
        } catch (IOException e) {
            close();
        }
        notifyAll();
    }

    /**
     * After the loop let the failed connection go, before its unanswered requests are sent again elsewhere: a server
     * carries out what it had read even when the proxy hung up, so a write sent again on a new connection, answered,
     * then overwritten by the client, could be undone by the old copy landing late (seen: an acknowledged and
     * flushed block read back with an older write, after the proxy gave up a connection to a live server). Waits
     * until the server closes its end, at most {@code millis}, discarding what it still sends; then closes. A dead
     * server's connection ends at once. Returns false when the server did not close in time.
     */
    boolean fence(long millis) {
        if (!sent) {
            close();
            return true;
        }
        try {
            SocketChannel socket = channel.socket();
            if (!socket.isOpen()) {
                return true; // closed at the fence's bound already, or by a stop
            }
            socket.configureBlocking(false); // a replay's: its blocking reader is done with it
            ByteBuffer scratch = ByteBuffer.allocate(4096);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (System.nanoTime() < deadline) {
                scratch.clear();
                int n = socket.read(scratch);
                if (n < 0) {
                    return true;
                }
                if (n == 0) {
                    Thread.sleep(5);
                }
            }
            return false;
        } catch (IOException e) {
            return true; // reset: the server is gone
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // stopping
            return true;
        } finally {
            close();
        }
    }

    /** When it failed, by {@link System#nanoTime()}; meaningful once {@link #isFailed}. */
    long failedNanos() {
        return failedNanos;
    }

    void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }

    /** Waits until the connection has failed, for whatever reason. */
    synchronized void awaitFailed() throws InterruptedException {
        while (failure == null) {
            wait();
        }
    }

    /** The TLS protocol and cipher suite, "" in plain text. */
    String tls() {
        SecureChannel t = wire.tls();
        return t == null ? "" : t.describe();
    }

    /** The subject of the server's certificate, "" in plain text. */
    String peerSubject() {
        SecureChannel t = wire.tls();
        return t == null ? "" : t.peerSubject();
    }

    boolean isFailed() {
        return failure != null;
    }

    String failure() {
        return failure;
    }

    boolean isQuiet() {
        return quiet;
    }

    /** Set by the link under its lock; read by the reader for every reply. Null while no client is served. */
    Binding binding() {
        return binding;
    }

    /**
     * Under the link's lock. The binding replaced is kept among those {@link #letGo} before the new one is seen, so
     * that the reader, which looks without the lock, always finds whom a reply in flight is for.
     */
    void bind(Binding b) {
        Binding was = binding;
        if (was != null && was != b) {
            letGo.add(was);
        }
        binding = b;
    }

    /** {@code b}'s generation owes nothing on this connection any more: no late reply to look for. */
    void settled(Binding b) {
        letGo.remove(b);
    }

    /** The bindings let go of that may still be owed replies here, oldest first. */
    List<Binding> letGo() {
        return letGo;
    }

    /** A request written here and not answered yet, as written, and the binding it was written for. */
    record Awaited(Binding owner, Request request) {
    }

    /**
     * The request a reply with {@code cookie} answers, for the client served now or one let go of; null when none
     * was written here and not answered. The binding is read first, then those let go: {@link #bind} adds the old
     * binding to them before it replaces it, so that one of the two reads finds it.
     */
    Awaited awaited(long cookie) {
        Binding b = binding;
        Request r = b == null ? null : b.ledger().lookup(b.token(), cookie);
        if (r != null) {
            return new Awaited(b, r);
        }
        for (Binding was : letGo) {
            r = was.ledger().lookup(was.token(), cookie);
            if (r != null) {
                return new Awaited(was, r);
            }
        }
        return null;
    }

    /**
     * Whether no reply can be due on the plain-text connection: nothing written for the client served now or one let
     * go of is unanswered, and the proxy's own FLUSH is not out. False under TLS, whose records may hold bytes the
     * socket no longer shows.
     */
    boolean owesNoReply() {
        Binding b = binding;
        return wire.tls() == null && letGo.isEmpty() && (b == null || b.ledger().awaitedOn(b.token()) == 0)
                && (journal == null || !journal.ownFlushOut());
    }

    /** Whether a reply with {@code cookie} is awaited here: the proxy's own FLUSH must not take such a cookie. */
    boolean awaitsReply(long cookie) {
        return awaited(cookie) != null;
    }

    /** The server said ESHUTDOWN here: nothing more is sent on this connection. */
    void refuse() {
        refusing = true;
    }

    boolean isRefusing() {
        return refusing;
    }

    /** Taken into use by a link, before anything is written: from now on it takes part in {@code j}. */
    void join(WriteJournal j, String upstream) {
        journal = new ConnectionJournal(j, this, export.export().transmissionFlags(), upstream);
    }

    ConnectionJournal journal() {
        return journal;
    }

    void delivered() {
        delivered = true;
    }

    long ageMillis() {
        return (System.nanoTime() - openedNanos) / 1_000_000;
    }

    boolean hasDelivered() {
        return delivered;
    }
}
