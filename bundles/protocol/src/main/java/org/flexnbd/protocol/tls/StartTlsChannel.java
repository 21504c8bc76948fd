package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

import org.flexnbd.protocol.loop.HoldsOutput;

/**
 * A connection that begins in plain text and may turn into TLS half way, as NBD_OPT_STARTTLS does it: the wire
 * readers and writers built over it stay, and what they read and write is encrypted from the switch on.
 */
public final class StartTlsChannel implements ByteChannel, GatheringByteChannel, HoldsOutput {
    private final ByteChannel plain;
    private final GatheringByteChannel plainGathering;
    private volatile SecureChannel tls;

    /** A TLS handshake over the plain connection, as one side or the other, with one kind of credentials. */
    @FunctionalInterface
    public interface Handshake {
        SecureChannel over(ByteChannel plain) throws IOException;
    }

    /** Over a plain connection that can read, write and gather, such as a SocketChannel. */
    public <C extends ByteChannel & GatheringByteChannel> StartTlsChannel(C plain) {
        this.plain = plain;
        this.plainGathering = plain;
    }

    /**
     * Runs the TLS handshake on the plain connection; every byte after it is encrypted. The caller has flushed what
     * it wrote and read nothing beyond the option that agreed to it.
     */
    public SecureChannel start(Handshake handshake) throws IOException {
        if (tls != null) {
            throw new IllegalStateException("TLS is already on");
        }
        SecureChannel t = handshake.over(plain);
        tls = t;
        return t;
    }

    /** The encrypted channel once started, or null while the connection is plain. */
    public SecureChannel tls() {
        return tls;
    }

    private GatheringByteChannel writer() {
        SecureChannel t = tls;
        return t != null ? t : plainGathering;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        SecureChannel t = tls;
        return t != null ? t.read(dst) : plain.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return writer().write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return writer().write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return writer().write(srcs);
    }

    @Override
    public boolean flushHeld() throws IOException {
        SecureChannel t = tls;
        return t == null || t.flushHeld();
    }

    @Override
    public boolean isOpen() {
        return plain.isOpen();
    }

    @Override
    public void close() throws IOException {
        SecureChannel t = tls;
        if (t != null) {
            t.close();
        } else {
            plain.close();
        }
    }
}
