package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Newstyle option requests and option replies on the wire. */
public final class OptionCodec {
    private OptionCodec() {
    }

    /** An option request: the option and its data; {@code tooBig} when the data was over the limit and dropped. */
    public record Option(int option, ByteBuffer data, boolean tooBig) {
        public Option {
            data = data.asReadOnlyBuffer();
        }

        @Override
        public ByteBuffer data() {
            return data.duplicate();
        }
    }

    /** An option reply. */
    public record OptionReply(int option, int type, ByteBuffer data) {
        public OptionReply {
            data = data.asReadOnlyBuffer();
        }

        @Override
        public ByteBuffer data() {
            return data.duplicate();
        }

        public boolean isError() {
            return (type & Nbd.REP_FLAG_ERROR) != 0;
        }
    }

    /** Reads an option request. Data over {@link Nbd#MAX_OPTION_LENGTH} is skipped, not read into memory. */
    public static Option readOption(WireInput in) throws IOException {
        long magic = in.readLong();
        if (magic != Nbd.IHAVEOPT) {
            throw NbdException.fatal(String.format("bad option magic 0x%016x", magic));
        }
        int option = in.readInt();
        long length = in.readUnsignedInt();
        if (length > Nbd.MAX_OPTION_LENGTH) {
            in.skip(length);
            return new Option(option, ByteBuffer.allocate(0), true);
        }
        return new Option(option, in.readBytes((int) length), false);
    }

    public static void writeOption(WireOutput out, int option, ByteBuffer data) throws IOException {
        out.writeLong(Nbd.IHAVEOPT).writeInt(option).writeInt(data.remaining()).write(data);
    }

    public static OptionReply readReply(WireInput in) throws IOException {
        long magic = in.readLong();
        if (magic != Nbd.REPLY_MAGIC) {
            throw NbdException.fatal(String.format("bad option reply magic 0x%016x", magic));
        }
        int option = in.readInt();
        int type = in.readInt();
        long length = in.readUnsignedInt();
        if (length > Nbd.MAX_OPTION_LENGTH) {
            throw NbdException.fatal("option reply of " + length + " bytes");
        }
        return new OptionReply(option, type, in.readBytes((int) length));
    }

    public static void writeReply(WireOutput out, int option, int type, ByteBuffer data) throws IOException {
        out.writeLong(Nbd.REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(data.remaining()).write(data);
    }

    public static void writeReply(WireOutput out, int option, int type) throws IOException {
        writeReply(out, option, type, ByteBuffer.allocate(0));
    }

    /** An error reply carrying a human-readable message, as the spec allows. */
    public static void writeError(WireOutput out, int option, int type, String message) throws IOException {
        writeReply(out, option, type, ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)));
    }

    /** Reads a u32-length-prefixed string from option data, checking it fits. */
    public static String string(ByteBuffer data) throws NbdException {
        if (data.remaining() < 4) {
            throw NbdException.fatal("option data truncated before a string length");
        }
        long n = data.getInt() & 0xffffffffL;
        if (n > data.remaining() || n > Nbd.MAX_STRING) {
            throw NbdException.fatal("string of " + n + " bytes in " + data.remaining() + " bytes of option data");
        }
        byte[] b = new byte[(int) n];
        data.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    public static ByteBuffer lengthPrefixed(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).flip();
    }
}
