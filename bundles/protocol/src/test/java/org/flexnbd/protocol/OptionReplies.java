package org.flexnbd.protocol;

import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Parses option replies out of raw server output, by hand, independently of OptionCodec. */
final class OptionReplies {
    private final ByteBuffer bytes;

    OptionReplies(byte[] bytes, int from) {
        this.bytes = ByteBuffer.wrap(bytes);
        this.bytes.position(from);
    }

    record Parsed(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }

        ByteBuffer buffer() {
            return ByteBuffer.wrap(data);
        }
    }

    Parsed next() {
        assertEquals("option reply magic", Nbd.REPLY_MAGIC, bytes.getLong());
        int option = bytes.getInt();
        int type = bytes.getInt();
        int length = bytes.getInt();
        byte[] data = new byte[length];
        bytes.get(data);
        return new Parsed(option, type, data);
    }

    /** The next reply, which must be for {@code option} and of {@code type}. */
    Parsed next(int option, int type) {
        Parsed p = next();
        assertEquals("option", option, p.option());
        assertEquals(String.format("reply type for option %d (data '%s')", option, p.text()), type, p.type());
        return p;
    }

    boolean hasMore() {
        return bytes.hasRemaining();
    }

    int remaining() {
        return bytes.remaining();
    }

    ByteBuffer rest() {
        return bytes.slice();
    }
}
