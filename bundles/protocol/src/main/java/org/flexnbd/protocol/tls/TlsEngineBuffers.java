package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;

/**
 * An {@link SSLEngine} driven on buffers alone, with no socket and no waiting: the caller hands it the ciphertext
 * that arrived and takes plaintext out, hands it plaintext and takes ciphertext to send, and each step says what
 * it needs before it can go on ({@link Status}). It is the TLS of the coming event loop, where a selector decides
 * when a socket is read or written; {@link TlsChannel} is its blocking shell until then.
 *
 * <p>Contract:
 * <ul>
 * <li>{@link #handshake()} is called until it answers {@link Status#READY}, alone (neither half below runs
 * meanwhile). A failure throws {@link SSLException}; {@link #closeOutbound()} then leaves the alert to send.</li>
 * <li>The inbound half ({@link #receive}, {@link #unwrap}, {@link #hasPlaintext}, {@link #take},
 * {@link #inputEnded}) is used by one thread at a time, and so is the outbound half ({@link #wrap}, {@link #wrap()},
 * {@link #closeOutbound}, {@link #outbound}); the two halves may run at the same time, as an NBD connection reads
 * requests while it writes replies.</li>
 * <li>When {@link #unwrap} answers {@link Status#SEND}, the engine has a record of its own to send (a TLS 1.3 key
 * update's answer, the answer to close_notify): the caller calls {@link #wrap()} where the outbound half is its
 * own, sends {@link #outbound()}, and only then unwraps again.</li>
 * <li>Delegated tasks run inline, on the calling thread: they are short checks of certificates and keys.</li>
 * </ul>
 */
public final class TlsEngineBuffers {
    private static final ByteBuffer[] NOTHING = {ByteBuffer.allocate(0)};
    private static final int RECORDS = 4;
    private static final int CLOSED_EMPTY = -1;

    /** What a step needs from its caller before the core can go on. */
    public enum Status {
        /** More ciphertext from the peer: {@link #receive} some, then call again. */
        RECEIVE,
        /** Ciphertext waits in {@link #outbound()} (or, from {@link #unwrap}, must be wrapped first): send it. */
        SEND,
        /** The handshake is finished, or (from {@link #unwrap}) plaintext was produced. */
        READY,
        /** The peer ended its side (close_notify, or the end of the input): no more plaintext comes. */
        CLOSED
    }

    /** Where the caller's ciphertext comes from: a socket's read, in the shape of {@code ReadableByteChannel}. */
    @FunctionalInterface
    public interface CiphertextSource {
        /** Puts ciphertext into {@code room}; returns how much, or -1 at the end of the input. */
        int read(ByteBuffer room) throws IOException;
    }

    private final SSLEngine engine;
    /**
     * The engine's largest record, ciphertext and plaintext: asked once, since asking takes the engine's lock and
     * the sizes a fresh engine gives are its largest.
     */
    private final int packetSize;
    private final int applicationSize;
    /** Ciphertext received and not yet unwrapped, kept ready for reading (flipped). */
    private ByteBuffer netIn;
    /** Plaintext unwrapped and not yet taken, kept ready for reading (flipped). */
    private ByteBuffer appIn;
    /** Ciphertext wrapped and not yet sent, kept ready for reading (flipped). */
    private ByteBuffer netOut;
    private boolean inputEnded;
    private boolean handshakeBegun;

    /** A core for {@code engine}, already set to its client or server mode, its handshake not yet begun. */
    public TlsEngineBuffers(SSLEngine engine) {
        this.engine = engine;
        SSLSession s = engine.getSession();
        this.packetSize = s.getPacketBufferSize();
        this.applicationSize = s.getApplicationBufferSize();
        // Room for a few records each way: fewer system calls, and still small enough for hundreds of clients.
        this.netIn = ByteBuffer.allocateDirect(RECORDS * packetSize).flip();
        this.appIn = ByteBuffer.allocate(applicationSize).flip();
        this.netOut = ByteBuffer.allocateDirect(RECORDS * packetSize).flip();
    }

    /** The session agreed (or being agreed): protocol, cipher suite, the peer's certificates. */
    public SSLSession session() {
        return engine.getSession();
    }

    /**
     * Takes the handshake as far as the ciphertext received allows: {@link Status#SEND} when ciphertext waits to
     * be sent, {@link Status#RECEIVE} when the peer's next flight is needed, {@link Status#CLOSED} when the peer
     * closed during it, {@link Status#READY} when it is over and nothing waits to be sent.
     *
     * @throws SSLException when the handshake fails or the engine refuses it
     * @throws ClosedChannelException when the engine closed with nothing left to send
     */
    public Status handshake() throws IOException {
        if (!handshakeBegun) {
            engine.beginHandshake();
            handshakeBegun = true;
        }
        while (true) {
            if (inputEnded) {
                return netOut.hasRemaining() ? Status.SEND : Status.CLOSED;
            }
            switch (engine.getHandshakeStatus()) {
                case NEED_WRAP:
                    int n = wrapRecords(NOTHING, 0, 1);
                    if (n == CLOSED_EMPTY) {
                        throw new ClosedChannelException();
                    }
                    if (engine.isOutboundDone()) {
                        throw new SSLException("the TLS handshake was refused");
                    }
                    if (n == 0 && netOut.hasRemaining()) {
                        return Status.SEND; // no room for the next record until these are sent
                    }
                    break;
                case NEED_UNWRAP:
                case NEED_UNWRAP_AGAIN:
                    SSLEngineResult r = unwrapBuffered();
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                        // Our own flight goes out before we wait for theirs.
                        return netOut.hasRemaining() ? Status.SEND : Status.RECEIVE;
                    }
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                        appIn = grow(appIn, applicationSize);
                    } else if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                        inputEnded = true;
                        answerIfAsked(r.getHandshakeStatus());
                    } else {
                        runTasksIfAsked(r.getHandshakeStatus());
                    }
                    break;
                case NEED_TASK:
                    runTasks();
                    break;
                default:
                    return netOut.hasRemaining() ? Status.SEND : Status.READY;
            }
        }
    }

    /** Wraps the answer to a close_notify, if the engine has one, so that the peer gets it when it can. */
    private void answerIfAsked(HandshakeStatus status) throws SSLException {
        if (runTasksIfAsked(status) == HandshakeStatus.NEED_WRAP) {
            wrapRecords(NOTHING, 0, 1);
        }
    }

    /**
     * Puts ciphertext from {@code source} behind what is already received, with room for at least one more
     * record's worth; returns what {@code source} returned (-1 at the end of its input, which the caller reports
     * with {@link #inputEnded()}).
     */
    public int receive(CiphertextSource source) throws IOException {
        netIn.compact();
        try {
            if (!netIn.hasRemaining()) {
                netIn.flip();
                netIn = grow(netIn, packetSize);
                netIn.compact();
            }
            return source.read(netIn);
        } finally {
            netIn.flip();
        }
    }

    /**
     * The input ended without close_notify. For NBD that is an end of input like any other, so it is not an error:
     * {@link #unwrap} answers {@link Status#CLOSED} from now on.
     */
    public void inputEnded() {
        inputEnded = true;
        try {
            engine.closeInbound();
        } catch (SSLException truncated) {
            // the engine says the peer closed without close_notify: that is what the caller told it
        }
    }

    /**
     * Unwraps the ciphertext received. When {@code dst} (in write mode) has room for a whole record, plaintext
     * goes straight into it, record after record while the room lasts, without a copy; otherwise one record goes
     * into the core's own buffer, for {@link #take}. Answers {@link Status#READY} when plaintext was produced (in
     * {@code dst} or for {@link #take}), {@link Status#RECEIVE} when no whole record is there,
     * {@link Status#SEND} when the engine must send a record of its own first (see the class's contract; plaintext
     * may have been produced too), {@link Status#CLOSED} when the peer closed and nothing was produced.
     *
     * @throws SSLException when the peer sends what is not TLS, or breaks it
     */
    public Status unwrap(ByteBuffer dst) throws SSLException {
        boolean direct = dst.remaining() >= applicationSize;
        boolean produced = false;
        while (!inputEnded) {
            SSLEngineResult r = direct ? engine.unwrap(netIn, dst) : unwrapBuffered();
            switch (r.getStatus()) {
                case OK:
                    produced |= r.bytesProduced() > 0;
                    if (runTasksIfAsked(r.getHandshakeStatus()) == HandshakeStatus.NEED_WRAP) {
                        return Status.SEND;
                    }
                    if (produced && !(direct && dst.remaining() >= applicationSize)) {
                        return Status.READY;
                    }
                    break;
                case BUFFER_UNDERFLOW:
                    return produced ? Status.READY : Status.RECEIVE;
                case BUFFER_OVERFLOW:
                    if (!direct) {
                        appIn = grow(appIn, applicationSize);
                    } else if (produced) {
                        return Status.READY;
                    } else {
                        direct = false; // the engine wants more room than dst has: the own buffer grows instead
                    }
                    break;
                case CLOSED:
                    inputEnded = true;
                    if (runTasksIfAsked(r.getHandshakeStatus()) == HandshakeStatus.NEED_WRAP) {
                        return Status.SEND; // the answer to close_notify; CLOSED comes next time
                    }
                    return produced ? Status.READY : Status.CLOSED;
                default:
                    throw new SSLException("unexpected unwrap status " + r.getStatus());
            }
        }
        return produced ? Status.READY : Status.CLOSED;
    }

    /** Unwraps one record into {@code appIn}, kept flipped around the call. */
    private SSLEngineResult unwrapBuffered() throws SSLException {
        appIn.compact();
        try {
            return engine.unwrap(netIn, appIn);
        } finally {
            appIn.flip();
        }
    }

    /** Whether plaintext waits for {@link #take}. */
    public boolean hasPlaintext() {
        return appIn.hasRemaining();
    }

    /** Copies waiting plaintext into {@code dst}, as much as fits; returns how much. */
    public int take(ByteBuffer dst) {
        int n = Math.min(dst.remaining(), appIn.remaining());
        dst.put(appIn.slice(appIn.position(), n));
        appIn.position(appIn.position() + n);
        return n;
    }

    /**
     * Wraps plaintext from {@code srcs}, record after record while there is plaintext and room for another, behind
     * the ciphertext still waiting in {@link #outbound()}. A large payload thus costs one socket write per few
     * records, not one per record; what did not fit stays in {@code srcs} for the next call.
     *
     * @throws ClosedChannelException when the engine's outbound side is closed and nothing more came out of it
     */
    public void wrap(ByteBuffer[] srcs, int offset, int length) throws IOException {
        if (wrapRecords(srcs, offset, length) == CLOSED_EMPTY && !netOut.hasRemaining()) {
            throw new ClosedChannelException();
        }
    }

    /** Wraps what the engine has to send of its own (a key update's answer, close_notify, an alert), if anything. */
    public void wrap() throws SSLException {
        int n;
        do {
            n = wrapRecords(NOTHING, 0, 1);
        } while (n > 0 && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP);
    }

    /**
     * Ends our side: after a failure, the engine's alert; otherwise close_notify. Either waits in
     * {@link #outbound()}.
     */
    public void closeOutbound() throws SSLException {
        engine.closeOutbound();
        wrap();
    }

    /**
     * The ciphertext waiting to be sent, ready for reading: the caller writes it out and so consumes it. A fresh
     * call each time, since the buffer may be replaced by a larger one.
     */
    public ByteBuffer outbound() {
        return netOut;
    }

    /**
     * Wraps into {@code netOut}, kept flipped around the call, while there is plaintext and room for a record.
     * Returns the ciphertext bytes produced, or {@link #CLOSED_EMPTY} when the engine is closed and gave none.
     */
    private int wrapRecords(ByteBuffer[] srcs, int offset, int length) throws SSLException {
        netOut.compact();
        int produced = 0;
        try {
            while (true) {
                SSLEngineResult r = engine.wrap(srcs, offset, length, netOut);
                produced += r.bytesProduced();
                switch (r.getStatus()) {
                    case OK:
                        runTasksIfAsked(r.getHandshakeStatus());
                        if (r.bytesConsumed() == 0 || netOut.remaining() < packetSize
                                || remaining(srcs, offset, length) == 0) {
                            return produced;
                        }
                        break;
                    case BUFFER_OVERFLOW:
                        if (netOut.position() > 0) {
                            return produced; // what is wrapped goes out first; the caller comes back for the rest
                        }
                        netOut = ByteBuffer.allocateDirect(netOut.capacity() + packetSize);
                        break;
                    case CLOSED:
                        return produced > 0 ? produced : CLOSED_EMPTY; // an alert after a failure, if any
                    default:
                        throw new SSLException("unexpected wrap status " + r.getStatus());
                }
            }
        } finally {
            netOut.flip();
        }
    }

    static long remaining(ByteBuffer[] srcs, int offset, int length) {
        long n = 0;
        for (int i = offset; i < offset + length; i++) {
            n += srcs[i].remaining();
        }
        return n;
    }

    /** Runs the engine's tasks when {@code status} asks for them; returns the status after. */
    private HandshakeStatus runTasksIfAsked(HandshakeStatus status) {
        if (status != HandshakeStatus.NEED_TASK) {
            return status;
        }
        runTasks();
        return engine.getHandshakeStatus();
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    /** A flipped buffer with the same content and room for {@code more} bytes beyond it. */
    private static ByteBuffer grow(ByteBuffer flipped, int more) {
        ByteBuffer b = flipped.isDirect() ? ByteBuffer.allocateDirect(flipped.remaining() + more)
                : ByteBuffer.allocate(flipped.remaining() + more);
        b.put(flipped);
        return b.flip();
    }
}
