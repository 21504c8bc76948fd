package org.flexnbd.bench;

import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;

/** In-memory channels, so that the codecs are measured without a socket's system calls. */
final class Channels {
    private Channels() {
    }

    /**
     * Serves the same bytes over and over: {@code message} repeated end to end, forever. Each read copies as much
     * as fits, up to the end of the array, as a socket with plenty of data queued would.
     */
    static final class Repeating implements ReadableByteChannel {
        private final byte[] bytes;
        private int position;

        Repeating(byte[] message, int minimumBytes) {
            int copies = Math.max(1, (minimumBytes + message.length - 1) / message.length);
            bytes = new byte[message.length * copies];
            for (int i = 0; i < copies; i++) {
                System.arraycopy(message, 0, bytes, i * message.length, message.length);
            }
        }

        @Override
        public int read(ByteBuffer dst) {
            int n = Math.min(dst.remaining(), bytes.length - position);
            dst.put(bytes, position, n);
            position += n;
            if (position == bytes.length) {
                position = 0;
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** An always-open channel whose gathering writes are its single-buffer writes in turn. */
    private abstract static class WriteOnly implements GatheringByteChannel {
        @Override
        public abstract int write(ByteBuffer src);

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += write(srcs[i]);
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** Takes everything and keeps nothing, counting bytes so the work cannot be optimised away. */
    static final class Sink extends WriteOnly {
        long written;

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            src.position(src.limit());
            written += n;
            return n;
        }
    }

    /** Collects what is written, to make the encoded form of a message once. */
    static final class Collect extends WriteOnly {
        private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            byte[] b = new byte[n];
            src.get(b);
            bytes.write(b, 0, n);
            return n;
        }

        byte[] toByteArray() {
            return bytes.toByteArray();
        }
    }
}
