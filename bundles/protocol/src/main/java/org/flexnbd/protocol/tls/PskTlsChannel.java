package org.flexnbd.protocol.tls;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.IntStream;

import org.bouncycastle.tls.BasicTlsPSKIdentity;
import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.PSKTlsClient;
import org.bouncycastle.tls.PSKTlsServer;
import org.bouncycastle.tls.SecurityParameters;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.TlsContext;
import org.bouncycastle.tls.TlsPSKIdentityManager;
import org.bouncycastle.tls.TlsProtocol;
import org.bouncycastle.tls.TlsServerProtocol;
import org.bouncycastle.tls.crypto.TlsCrypto;
import org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCryptoProvider;

/**
 * TLS with a pre-shared key, as nbdkit, qemu and libnbd speak it (TLS 1.2, (EC)DHE-PSK suites), with Bouncy
 * Castle's TLS protocol in its non-blocking form, since the JDK's TLS has no PSK. Same shape as {@link TlsChannel}:
 * one reading and one writing thread; the protocol object is used under its own lock for short calls only, and
 * what it has to send is queued under that lock and written, in order, by whoever holds the writing lock.
 */
final class PskTlsChannel implements SecureChannel {
    /** Plaintext per protocol call: one TLS record. */
    private static final int RECORD = 16 * 1024;
    /**
     * One record's ciphertext at most (TLS 1.2 allows 2048 bytes of expansion). The buffers hold one record, not
     * four: every client holds three of them for as long as it stays, idle or not, and four records each cost 150 KiB
     * of heap more per side, which limited how many clients the default heap serves; the ciphers, not the extra
     * system calls, set the pace.
     */
    private static final int WIRE = RECORD + 2048;

    private final ByteChannel raw;
    private final TlsProtocol protocol;
    private final ContextHolder peer;
    private final ReentrantLock reading = new ReentrantLock();
    private final ReentrantLock writing = new ReentrantLock();
    private final ByteBuffer rawIn = ByteBuffer.allocate(WIRE);
    private final byte[] plain = new byte[RECORD];
    /** Ciphertext the protocol produced and nobody has written yet; guarded by {@code protocol}. */
    private ByteBuffer queued = ByteBuffer.allocate(WIRE);
    /** The buffer {@code queued} is swapped with when it is written out; guarded by {@code writing}. */
    private ByteBuffer spare = ByteBuffer.allocate(WIRE);
    /** Ciphertext being written (flipped), which a full non-blocking socket left part of; guarded by {@code writing}. */
    private ByteBuffer draining;
    private boolean inputEnded;

    /** Where the handshake's outcome can be read back from: BC keeps the context in the peer object. */
    private interface ContextHolder {
        TlsContext context();
    }

    private PskTlsChannel(ByteChannel raw, TlsProtocol protocol, ContextHolder peer) {
        this.raw = raw;
        this.protocol = protocol;
        this.peer = peer;
    }

    /** The connecting side, proving {@code identity} with {@code key}. */
    static PskTlsChannel connect(ByteChannel raw, String identity, byte[] key) throws IOException {
        TlsClientProtocol protocol = new TlsClientProtocol();
        Client client = new Client(crypto(),
                new BasicTlsPSKIdentity(identity.getBytes(StandardCharsets.UTF_8), key));
        PskTlsChannel c = new PskTlsChannel(raw, protocol, client::context);
        synchronized (protocol) {
            protocol.connect(client);
            c.queueOutput(); // the ClientHello
        }
        c.shake();
        return c;
    }

    /** The listening side: a client must prove one of the identities of {@code keys}. */
    static PskTlsChannel accept(ByteChannel raw, Map<String, byte[]> keys) throws IOException {
        TlsServerProtocol protocol = new TlsServerProtocol();
        Server server = new Server(crypto(), new TlsPSKIdentityManager() {
            @Override
            public byte[] getHint() {
                return null;
            }

            @Override
            public byte[] getPSK(byte[] identity) {
                byte[] key = keys.get(new String(identity, StandardCharsets.UTF_8));
                return key == null ? null : key.clone();
            }
        });
        PskTlsChannel c = new PskTlsChannel(raw, protocol, server::context);
        synchronized (protocol) {
            protocol.accept(server);
            c.queueOutput();
        }
        c.shake();
        return c;
    }

    /**
     * The JDK's ciphers, not Bouncy Castle's own: those are plain Java, and held a copy through the proxy to 28 MiB/s
     * (ChaCha20, three quarters of the CPU), while the JDK runs AES-GCM on the processor's AES instructions.
     */
    private static TlsCrypto crypto() {
        return new JcaTlsCryptoProvider().create(new SecureRandom());
    }

    /** Bouncy Castle's suites with AES-GCM first; with a pre-shared key nbdkit and libnbd (GnuTLS) have it with DHE. */
    private static int[] aesGcmFirst(int[] suites) {
        int[] first = {CipherSuite.TLS_DHE_PSK_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_DHE_PSK_WITH_AES_256_GCM_SHA384};
        IntStream ours = Arrays.stream(first).filter(f -> Arrays.stream(suites).anyMatch(s -> s == f));
        IntStream rest = Arrays.stream(suites).filter(s -> Arrays.stream(first).noneMatch(f -> f == s));
        return IntStream.concat(ours, rest).toArray();
    }

    private static final class Client extends PSKTlsClient {
        Client(TlsCrypto crypto, BasicTlsPSKIdentity identity) {
            super(crypto, identity);
        }

        /** A GnuTLS server takes the client's order. */
        @Override
        protected int[] getSupportedCipherSuites() {
            return aesGcmFirst(super.getSupportedCipherSuites());
        }

        TlsContext context() {
            return context;
        }
    }

    private static final class Server extends PSKTlsServer {
        Server(TlsCrypto crypto, TlsPSKIdentityManager keys) {
            super(crypto, keys);
        }

        @Override
        protected int[] getSupportedCipherSuites() {
            return aesGcmFirst(super.getSupportedCipherSuites());
        }

        @Override
        protected boolean preferLocalCipherSuites() {
            return true;
        }

        TlsContext context() {
            return context;
        }
    }

    private void shake() throws IOException {
        try {
            send();
            while (isHandshaking()) {
                rawIn.clear();
                if (raw.read(rawIn) < 0) {
                    throw new EOFException("the peer closed the connection during the TLS handshake");
                }
                offer();
                send();
            }
            send();
        } catch (IOException e) {
            sendQuietly(); // the alert, so that the peer learns why
            throw e;
        }
    }

    private boolean isHandshaking() {
        synchronized (protocol) {
            return protocol.isHandshaking();
        }
    }

    /** Hands what {@code rawIn} holds to the protocol, and queues what it answers. */
    private void offer() throws IOException {
        synchronized (protocol) {
            try {
                protocol.offerInput(rawIn.array(), 0, rawIn.position());
            } finally {
                queueOutput();
            }
        }
    }

    /** Under the protocol's lock. */
    private void queueOutput() {
        int n = protocol.getAvailableOutputBytes();
        if (n == 0) {
            return;
        }
        if (queued.remaining() < n) {
            ByteBuffer bigger = ByteBuffer.allocate(queued.position() + n + RECORD);
            queued.flip();
            bigger.put(queued);
            queued = bigger;
        }
        protocol.readOutput(queued, n);
    }

    /**
     * Writes whatever is queued, in order; the caller may already hold the writing lock. All of it on a blocking
     * socket; on a non-blocking one, what the socket takes, the rest kept for the next call. True when none is left.
     */
    private boolean send() throws IOException {
        writing.lock();
        try {
            while (true) {
                if (draining == null) {
                    synchronized (protocol) {
                        if (queued.position() == 0) {
                            return true;
                        }
                        draining = queued;
                        queued = spare;
                    }
                    draining.flip();
                }
                while (draining.hasRemaining()) {
                    if (raw.write(draining) == 0) {
                        return false;
                    }
                }
                spare = draining.clear();
                draining = null;
            }
        } finally {
            writing.unlock();
        }
    }

    @Override
    public boolean flushHeld() throws IOException {
        return send();
    }

    private void sendQuietly() {
        try {
            send();
        } catch (IOException | RuntimeException ignored) {
            // reporting the failure matters more
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        reading.lock();
        try {
            while (true) {
                synchronized (protocol) {
                    int available = protocol.getAvailableInputBytes();
                    if (available > 0) {
                        int n = Math.min(available, dst.remaining());
                        return protocol.readInput(dst, n);
                    }
                    if (inputEnded || protocol.isClosed()) {
                        return -1;
                    }
                }
                rawIn.clear();
                int got = raw.read(rawIn);
                if (got < 0) {
                    synchronized (protocol) {
                        inputEnded = true;
                    }
                    continue;
                }
                if (got == 0) {
                    return 0; // a non-blocking socket with nothing yet
                }
                offer();
                // Something to answer (an alert, a refused renegotiation): the writer sends it if it is busy.
                if (writing.tryLock()) {
                    try {
                        send(); // reentrant: the lock is already ours
                    } finally {
                        writing.unlock();
                    }
                }
            }
        } finally {
            reading.unlock();
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        writing.lock();
        try {
            if (!send()) {
                return 0; // records from before still wait for a full non-blocking socket
            }
            long total = 0;
            for (int i = offset; i < offset + length; i++) {
                ByteBuffer src = srcs[i];
                while (src.hasRemaining()) {
                    int n = Math.min(RECORD, src.remaining());
                    src.get(plain, 0, n);
                    boolean full;
                    synchronized (protocol) {
                        protocol.writeApplicationData(plain, 0, n);
                        queueOutput();
                        full = queued.position() >= RECORD;
                    }
                    total += n;
                    if (full && !send()) {
                        return total; // a full non-blocking socket: the rest when it has room
                    }
                }
            }
            send();
            return total;
        } finally {
            writing.unlock();
        }
    }

    @Override
    public String peerSubject() {
        byte[] identity = parameters().getPSKIdentity();
        return identity == null ? "" : "psk:" + new String(identity, StandardCharsets.UTF_8);
    }

    @Override
    public String describe() {
        SecurityParameters p = parameters();
        return p.getNegotiatedVersion() + " PSK cipher suite 0x" + HexFormat.of().toHexDigits((short) p.getCipherSuite());
    }

    private SecurityParameters parameters() {
        synchronized (protocol) {
            return peer.context().getSecurityParametersConnection();
        }
    }

    @Override
    public boolean isOpen() {
        return raw.isOpen();
    }

    /** Closes the connection under it, without close_notify, for the reason {@link TlsChannel#close()} gives. */
    @Override
    public void close() throws IOException {
        raw.close();
    }
}
