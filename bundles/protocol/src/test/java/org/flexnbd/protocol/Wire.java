package org.flexnbd.protocol;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;

/** In-memory channels for driving the codecs. */
final class Wire {
    private Wire() {
    }

    interface Writing {
        void to(WireOutput out) throws IOException;
    }

    /** What {@code writing} puts on the wire, flushed. */
    static byte[] encode(Writing writing) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        WireOutput out = new WireOutput(Channels.newChannel(bytes), 256);
        writing.to(out);
        out.flush();
        return bytes.toByteArray();
    }

    static WireInput input(byte[] bytes) {
        return input(bytes, 256);
    }

    static WireInput input(byte[] bytes, int bufferSize) {
        return new WireInput(Channels.newChannel(new ByteArrayInputStream(bytes)), bufferSize);
    }

    static WireInput input(Bytes bytes) {
        return input(bytes.array());
    }

    /** A channel that hands out at most {@code step} bytes per read, as a slow socket does. */
    static ReadableByteChannel trickle(byte[] bytes, int step) {
        ByteBuffer src = ByteBuffer.wrap(bytes);
        return new ReadableByteChannel() {
            private boolean open = true;

            @Override
            public int read(ByteBuffer dst) {
                if (!src.hasRemaining()) {
                    return -1;
                }
                int n = Math.min(step, Math.min(src.remaining(), dst.remaining()));
                ByteBuffer part = src.slice(src.position(), n);
                dst.put(part);
                src.position(src.position() + n);
                return n;
            }

            @Override
            public boolean isOpen() {
                return open;
            }

            @Override
            public void close() {
                open = false;
            }
        };
    }

    static byte[] remaining(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }
}
