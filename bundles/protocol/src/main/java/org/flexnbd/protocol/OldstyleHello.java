package org.flexnbd.protocol;

import java.io.IOException;

/** The oldstyle handshake: one 152-byte hello from the server, nothing from the client. */
public final class OldstyleHello {
    private OldstyleHello() {
    }

    public static void write(WireOutput out, ExportInfo export) throws IOException {
        out.writeLong(Nbd.NBDMAGIC).writeLong(Nbd.OLDSTYLE_MAGIC).writeLong(export.size())
                .writeInt(export.transmissionFlags()).writeZeroes(124);
    }

    /** Reads the rest of an oldstyle hello, after NBDMAGIC and the oldstyle magic. */
    static ExportInfo readAfterMagic(WireInput in) throws IOException {
        long size = in.readLong();
        long flags = in.readUnsignedInt();
        in.skip(124);
        if (size < 0) {
            throw NbdException.fatal("oldstyle hello with size " + Long.toUnsignedString(size));
        }
        if ((flags & ~0xffffL) != 0) {
            throw NbdException.fatal(String.format("oldstyle hello with flags 0x%08x", flags));
        }
        return ExportInfo.of("", size, (int) flags);
    }
}
