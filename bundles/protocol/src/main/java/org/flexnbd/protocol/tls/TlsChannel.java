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
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * A blocking byte channel carried in TLS over another one, for one reading thread and one writing thread at a time
 * (the shape of an NBD connection: requests one way, replies the other). The TLS itself is in
 * {@link TlsEngineBuffers}; this shell only waits on the socket for it. Reading and writing each have their own
 * lock and their own half of its buffers, so neither waits for the other's socket; only the engine's own short
 * calls are shared. What the reader must send on its own (a key update's answer) it sends under the writer's lock.
 */
public final class TlsChannel implements SecureChannel {
    private final ByteChannel raw;
    private final TlsEngineBuffers tls;
    /** The socket's read, made once rather than on every read. */
    private final TlsEngineBuffers.CiphertextSource socket;
    private final ReentrantLock reading = new ReentrantLock();
    private final ReentrantLock writing = new ReentrantLock();

    private TlsChannel(ByteChannel raw, SSLEngine engine) {
        this.raw = raw;
        this.tls = new TlsEngineBuffers(engine);
        this.socket = raw::read;
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
            tls.closeOutbound();
            send();
        } catch (IOException | RuntimeException ignored) {
            // the failure being reported matters more than this courtesy
        }
    }

    private void shakeUntilDone() throws IOException {
        while (true) {
            switch (tls.handshake()) {
                case SEND:
                    send();
                    break;
                case RECEIVE:
                    if (tls.receive(socket) < 0) {
                        tls.inputEnded();
                        throw closedDuringHandshake();
                    }
                    break;
                case CLOSED:
                    throw closedDuringHandshake();
                default:
                    return;
            }
        }
    }

    private static EOFException closedDuringHandshake() {
        return new EOFException("the peer closed the connection during the TLS handshake");
    }

    /** The subject of the peer's certificate, or "" when it showed none. */
    @Override
    public String peerSubject() {
        try {
            Certificate[] chain = tls.session().getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof X509Certificate x
                    ? x.getSubjectX500Principal().getName() : "";
        } catch (SSLPeerUnverifiedException none) {
            return "";
        }
    }

    @Override
    public String describe() {
        SSLSession s = tls.session();
        return s.getProtocol() + " " + s.getCipherSuite();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        reading.lock();
        try {
            int start = dst.position();
            while (dst.position() == start) {
                if (tls.hasPlaintext()) {
                    tls.take(dst);
                    break;
                }
                // A large enough destination takes plaintext straight from the engine, without a copy.
                switch (tls.unwrap(dst)) {
                    case RECEIVE:
                        int got = tls.receive(socket);
                        if (got < 0) {
                            tls.inputEnded();
                        } else if (got == 0) {
                            return dst.position() - start; // a non-blocking socket with nothing yet
                        }
                        break;
                    case SEND:
                        answer();
                        break;
                    case CLOSED:
                        return -1;
                    default:
                        break;
                }
            }
            return dst.position() - start;
        } finally {
            reading.unlock();
        }
    }

    /** Sends the record the engine must send of its own after an unwrap (a key update's answer). */
    private void answer() throws IOException {
        writing.lock();
        try {
            tls.wrap();
            send();
        } catch (ClosedChannelException closing) {
            // the writer has closed: nothing to answer
        } finally {
            writing.unlock();
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        writing.lock();
        try {
            long before = TlsEngineBuffers.remaining(srcs, offset, length);
            if (!send()) {
                return 0; // records from before still wait for a full non-blocking socket
            }
            do {
                tls.wrap(srcs, offset, length);
            } while (send() && TlsEngineBuffers.remaining(srcs, offset, length) > 0);
            return before - TlsEngineBuffers.remaining(srcs, offset, length);
        } finally {
            writing.unlock();
        }
    }

    /**
     * Writes out the ciphertext waiting, under the writer's lock (or before there is a writer): all of it on a
     * blocking socket; on a non-blocking one, what it takes. True when none is left.
     */
    private boolean send() throws IOException {
        ByteBuffer out = tls.outbound();
        while (out.hasRemaining()) {
            if (raw.write(out) == 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean flushHeld() throws IOException {
        writing.lock();
        try {
            return send();
        } finally {
            writing.unlock();
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
