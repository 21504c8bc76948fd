package org.flexnbd.protocol.tls;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.concurrent.locks.ReentrantLock;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * A blocking byte channel carried in TLS over another one, for one reading thread and one writing thread at a time
 * (the shape of an NBD connection: requests one way, replies the other). Reading and writing each have their own
 * lock and buffers, so neither waits for the other's socket; only the engine's own short calls are shared. What the
 * reader must send on its own (a key update's answer) it writes under the writer's lock.
 */
public final class TlsChannel implements SecureChannel {
    private static final ByteBuffer[] NOTHING = {ByteBuffer.allocate(0)};
    private static final int OVERFLOW = -2;
    private static final int RECORDS = 4;

    private final ByteChannel raw;
    private final SSLEngine engine;
    private final ReentrantLock reading = new ReentrantLock();
    private final ReentrantLock writing = new ReentrantLock();
    /**
     * The engine's largest record, ciphertext and plaintext: asked once, since asking takes the engine's lock and
     * the sizes a fresh engine gives are its largest.
     */
    private final int packetSize;
    private final int applicationSize;
    /** Ciphertext read and not yet unwrapped, kept ready for reading (flipped). */
    private ByteBuffer netIn;
    /** Plaintext unwrapped and not yet taken, kept ready for reading (flipped). */
    private ByteBuffer appIn;
    private ByteBuffer netOut;
    private boolean inputEnded;

    private TlsChannel(ByteChannel raw, SSLEngine engine) {
        this.raw = raw;
        this.engine = engine;
        SSLSession s = engine.getSession();
        this.packetSize = s.getPacketBufferSize();
        this.applicationSize = s.getApplicationBufferSize();
        // Room for a few records each way: fewer system calls, and still small enough for hundreds of clients.
        this.netIn = ByteBuffer.allocateDirect(RECORDS * packetSize).flip();
        this.appIn = ByteBuffer.allocate(applicationSize).flip();
        this.netOut = ByteBuffer.allocateDirect(RECORDS * packetSize);
    }

    /**
     * Runs the TLS handshake over {@code raw} with {@code engine} (already set to its client or server mode) and
     * returns the encrypted channel. A failed handshake throws; the caller closes {@code raw}.
     */
    public static TlsChannel handshake(ByteChannel raw, SSLEngine engine) throws IOException {
        TlsChannel c = new TlsChannel(raw, engine);
        c.shake();
        return c;
    }

    private void shake() throws IOException {
        try {
            shakeUntilDone();
        } catch (SSLException e) {
            tellThePeer();
            throw e;
        }
    }

    /** Sends the alert the engine holds after a failure, so that the peer learns why, if the socket takes it. */
    private void tellThePeer() {
        try {
            engine.closeOutbound();
            wrapAndSend(NOTHING, 0, 1);
        } catch (IOException | RuntimeException ignored) {
            // the failure being reported matters more than this courtesy
        }
    }

    private void shakeUntilDone() throws IOException {
        engine.beginHandshake();
        while (true) {
            switch (engine.getHandshakeStatus()) {
                case NEED_WRAP:
                    wrapAndSend(NOTHING, 0, 1);
                    if (engine.isOutboundDone()) {
                        throw new SSLException("the TLS handshake was refused");
                    }
                    break;
                case NEED_UNWRAP:
                case NEED_UNWRAP_AGAIN:
                    if (unwrapBuffered() < 0) {
                        throw new EOFException("the peer closed the connection during the TLS handshake");
                    }
                    break;
                case NEED_TASK:
                    runTasks();
                    break;
                default:
                    return;
            }
        }
    }

    /** The subject of the peer's certificate, or "" when it showed none. */
    @Override
    public String peerSubject() {
        try {
            Certificate[] chain = engine.getSession().getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof X509Certificate x
                    ? x.getSubjectX500Principal().getName() : "";
        } catch (SSLPeerUnverifiedException none) {
            return "";
        }
    }

    @Override
    public String describe() {
        SSLSession s = engine.getSession();
        return s.getProtocol() + " " + s.getCipherSuite();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        reading.lock();
        try {
            while (true) {
                if (appIn.hasRemaining()) {
                    return take(dst);
                }
                if (inputEnded) {
                    return -1;
                }
                // A large enough destination takes plaintext straight from the engine, without a copy.
                boolean direct = dst.remaining() >= applicationSize;
                int n = direct ? unwrapSome(dst) : unwrapBuffered();
                if (n == OVERFLOW) {
                    n = unwrapBuffered();
                    direct = false;
                }
                if (n < 0) {
                    inputEnded = true;
                } else if (direct && n > 0) {
                    return n;
                }
            }
        } finally {
            reading.unlock();
        }
    }

    /** Unwraps one record into {@code appIn}, made larger if the engine asks for more room. */
    private int unwrapBuffered() throws IOException {
        while (true) {
            appIn.compact();
            int n;
            try {
                n = unwrapSome(appIn);
            } finally {
                appIn.flip();
            }
            if (n != OVERFLOW) {
                return n;
            }
            appIn = grow(appIn, applicationSize);
        }
    }

    private int take(ByteBuffer dst) {
        int n = Math.min(dst.remaining(), appIn.remaining());
        ByteBuffer slice = appIn.slice(appIn.position(), n);
        dst.put(slice);
        appIn.position(appIn.position() + n);
        return n;
    }

    /**
     * Unwraps one record into {@code dst} (in write mode), reading from the socket as needed. Returns the
     * plaintext bytes produced (0 for a record that carried none), -1 at the end of the input, or
     * {@link #OVERFLOW} when {@code dst} has too little room.
     */
    private int unwrapSome(ByteBuffer dst) throws IOException {
        while (true) {
            SSLEngineResult r = engine.unwrap(netIn, dst);
            switch (r.getStatus()) {
                case OK:
                    followUp(r.getHandshakeStatus());
                    if (r.bytesProduced() > 0 || r.bytesConsumed() > 0) {
                        return r.bytesProduced();
                    }
                    break;
                case BUFFER_UNDERFLOW:
                    if (!fill()) {
                        closeInboundQuietly();
                        return -1;
                    }
                    break;
                case BUFFER_OVERFLOW:
                    return OVERFLOW;
                case CLOSED:
                    followUp(r.getHandshakeStatus()); // answers the peer's close_notify when it can
                    return -1;
                default:
                    throw new SSLException("unexpected unwrap status " + r.getStatus());
            }
        }
    }

    /** What the engine asks for after an unwrap: tasks, or a record of its own (a key update's answer). */
    private void followUp(SSLEngineResult.HandshakeStatus status) throws IOException {
        if (status == SSLEngineResult.HandshakeStatus.NEED_TASK) {
            runTasks();
            status = engine.getHandshakeStatus();
        }
        if (status == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
            writing.lock();
            try {
                wrapAndSend(NOTHING, 0, 1);
            } catch (ClosedChannelException closing) {
                // the writer has closed: nothing to answer
            } finally {
                writing.unlock();
            }
        }
    }

    /** Reads more ciphertext into {@code netIn}; false at the end of the input. */
    private boolean fill() throws IOException {
        netIn.compact();
        try {
            if (!netIn.hasRemaining()) {
                netIn.flip();
                netIn = grow(netIn, packetSize);
                netIn.compact();
            }
            return raw.read(netIn) >= 0;
        } finally {
            netIn.flip();
        }
    }

    /** A flipped buffer with the same content and room for {@code more} bytes beyond it. */
    private static ByteBuffer grow(ByteBuffer flipped, int more) {
        ByteBuffer b = flipped.isDirect() ? ByteBuffer.allocateDirect(flipped.remaining() + more)
                : ByteBuffer.allocate(flipped.remaining() + more);
        b.put(flipped);
        return b.flip();
    }

    private void closeInboundQuietly() {
        try {
            engine.closeInbound();
        } catch (SSLException truncated) {
            // the peer closed without close_notify: for NBD that is an end of input like any other
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        writing.lock();
        try {
            long before = remaining(srcs, offset, length);
            do {
                wrapAndSend(srcs, offset, length);
            } while (remaining(srcs, offset, length) > 0);
            return before;
        } finally {
            writing.unlock();
        }
    }

    private static long remaining(ByteBuffer[] srcs, int offset, int length) {
        long n = 0;
        for (int i = offset; i < offset + length; i++) {
            n += srcs[i].remaining();
        }
        return n;
    }

    /**
     * Wraps records (16 KiB of plaintext each) while there is plaintext and room for another, then writes their
     * ciphertext out in full: a large payload costs one socket write per few records, not one per record.
     */
    private void wrapAndSend(ByteBuffer[] srcs, int offset, int length) throws IOException {
        netOut.clear();
        boolean more = true;
        while (more) {
            SSLEngineResult r = engine.wrap(srcs, offset, length, netOut);
            switch (r.getStatus()) {
                case OK:
                    if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                        runTasks();
                    }
                    more = r.bytesConsumed() > 0 && netOut.remaining() >= packetSize
                            && remaining(srcs, offset, length) > 0;
                    break;
                case BUFFER_OVERFLOW:
                    if (netOut.position() > 0) {
                        more = false; // send what is wrapped; the caller comes back for the rest
                    } else {
                        netOut = ByteBuffer.allocateDirect(netOut.capacity() + packetSize);
                    }
                    break;
                case CLOSED:
                    if (r.bytesProduced() == 0 && netOut.position() == 0) {
                        throw new ClosedChannelException();
                    }
                    more = false; // an alert after a failure: sent below
                    break;
                default:
                    throw new SSLException("unexpected wrap status " + r.getStatus());
            }
        }
        netOut.flip();
        while (netOut.hasRemaining()) {
            raw.write(netOut);
        }
    }

    @Override
    public boolean isOpen() {
        return raw.isOpen();
    }

    /**
     * Closes the connection under it, without close_notify: writing it could block for ever on a peer that has
     * stopped reading, and NBD ends its sessions itself (DISCONNECT), so a cut after the last reply loses nothing.
     */
    @Override
    public void close() throws IOException {
        raw.close();
    }
}
