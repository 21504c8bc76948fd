package org.flexnbd.protocol.loop;

import java.io.IOException;

/**
 * A channel that may take bytes and hold back what it made of them while its socket is full (TLS: the plaintext is
 * taken, the records wait). {@link Outbound} asks it to write them before anything more, and counts them as not yet
 * written, so that the loop keeps watching the socket for room.
 */
public interface HoldsOutput {
    /** Writes what is held back, as far as the socket takes it; true when nothing is left. */
    boolean flushHeld() throws IOException;
}
