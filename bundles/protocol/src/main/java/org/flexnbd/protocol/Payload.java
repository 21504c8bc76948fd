package org.flexnbd.protocol;

import java.nio.ByteBuffer;

import io.netty.util.ReferenceCounted;

/**
 * Payload bytes as read from the wire, ready to read, and the pooled memory they lie in (null on the heap), of which
 * the reader now holds one reference.
 */
record Payload(ByteBuffer data, ReferenceCounted owner) {

    void release() {
        if (owner != null) {
            owner.release();
        }
    }
}
