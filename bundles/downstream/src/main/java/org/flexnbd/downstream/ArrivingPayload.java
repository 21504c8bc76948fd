package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.WireInput;

/**
 * Reads a WRITE's payload taking memory only as its data arrives: a client that sends a 32 MiB header and then one
 * byte must not make the proxy hold 32 MiB. The first {@link #FIRST} bytes (all of a request up to that size, the
 * common case, read with no copy) are read into a buffer of their own; each time it is full, a buffer
 * {@link #GROWTH} times larger (at most the payload) takes what came so far and the reading goes on there. So the
 * memory held is at most {@code GROWTH} times what arrived, plus {@code FIRST}; the price is copying about a third
 * of a large payload once more.
 */
final class ArrivingPayload {
    static final int FIRST = 1 << 20;
    static final int GROWTH = 4;

    private ArrivingPayload() {
    }

    /** The request whose header was read, with its WRITE payload read; any other request is itself. */
    static Request read(WireInput in, Request header) throws IOException {
        if (header.type() != Nbd.CMD_WRITE) {
            return header;
        }
        int length = (int) header.length();
        ByteBuffer data = ByteBuffer.allocate(Math.min(length, FIRST));
        in.readFully(data);
        while (data.capacity() < length) {
            ByteBuffer larger = ByteBuffer.allocate((int) Math.min(length, (long) data.capacity() * GROWTH));
            larger.put(data.flip());
            in.readFully(larger);
            data = larger;
        }
        return new Request(header.flags(), header.type(), header.cookie(), header.offset(), header.length(),
                data.flip());
    }
}
