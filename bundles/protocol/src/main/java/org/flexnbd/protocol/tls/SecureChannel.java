package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

/** An encrypted connection, whichever TLS carries it: what the NBD code reads and writes, and what it shows. */
public interface SecureChannel extends ByteChannel, GatheringByteChannel {

    /** Who the peer proved to be: its certificate's subject, or its pre-shared key's identity; "" when unknown. */
    String peerSubject();

    /** The protocol and cipher suite agreed, for the log and management. */
    String describe();

    /**
     * Writes the records a write over a non-blocking socket left waiting, as far as the socket takes them; true
     * when none is left. A blocking socket never leaves any.
     */
    default boolean flushHeld() throws IOException {
        return true;
    }

    /** Every write is the gathering one: a header and its payload go out in the same records. */
    @Override
    default int write(ByteBuffer src) throws IOException {
        return (int) write(new ByteBuffer[] {src}, 0, 1);
    }

    @Override
    default long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }
}
