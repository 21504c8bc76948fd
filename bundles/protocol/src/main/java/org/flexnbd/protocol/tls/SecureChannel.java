package org.flexnbd.protocol.tls;

import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

/** An encrypted connection, whichever TLS carries it: what the NBD code reads and writes, and what it shows. */
public interface SecureChannel extends ByteChannel, GatheringByteChannel {

    /** Who the peer proved to be: its certificate's subject, or its pre-shared key's identity; "" when unknown. */
    String peerSubject();

    /** The protocol and cipher suite agreed, for the log and management. */
    String describe();
}
