package org.flexnbd.demo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.ClientAgreement;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;

/** Carries out one client's transmission requests on the export and answers each. */
final class Commands {
    /** More descriptors than this in one BLOCK_STATUS reply are left for the client to ask again. */
    static final int MAX_EXTENTS = 16 * 1024;

    private final MemoryExport export;
    private final Map<Integer, String> contexts;
    private final ReplyWriter replies;

    Commands(MemoryExport export, ClientAgreement agreement, ReplyWriter replies) {
        this.export = export;
        this.contexts = agreement.metaContexts();
        this.replies = replies;
    }

    /** Answers {@code r}; DISC is the caller's to handle. */
    void execute(Request r) throws IOException {
        String invalid = invalidFlags(r);
        if (invalid != null) {
            replies.error(r.cookie(), Nbd.EINVAL, invalid);
            return;
        }
        switch (r.type()) {
            case Nbd.CMD_READ -> read(r);
            case Nbd.CMD_WRITE -> write(r);
            case Nbd.CMD_FLUSH -> replies.ok(r.cookie()); // memory: nothing is volatile
            case Nbd.CMD_TRIM -> trim(r);
            case Nbd.CMD_CACHE -> cache(r);
            case Nbd.CMD_WRITE_ZEROES -> writeZeroes(r);
            case Nbd.CMD_BLOCK_STATUS -> blockStatus(r);
            default -> replies.error(r.cookie(), Nbd.EINVAL, Nbd.commandName(r.type()) + " is not supported");
        }
    }

    /** The spec: EINVAL for a flag not documented for the command (FUA is valid on all). */
    private static String invalidFlags(Request r) {
        int allowed = Nbd.CMD_FLAG_FUA | switch (r.type()) {
            case Nbd.CMD_READ -> Nbd.CMD_FLAG_DF;
            case Nbd.CMD_WRITE_ZEROES -> Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO;
            case Nbd.CMD_BLOCK_STATUS -> Nbd.CMD_FLAG_REQ_ONE;
            default -> 0;
        };
        int extra = r.flags() & ~allowed;
        return extra == 0 ? null : String.format("flags 0x%x are not valid for %s", extra, Nbd.commandName(r.type()));
    }

    private boolean outOfRange(Request r, int error) throws IOException {
        if (export.contains(r.offset(), r.length())) {
            return false;
        }
        replies.error(r.cookie(), error, Nbd.commandName(r.type()) + " of " + r.length() + " bytes at " + r.offset()
                + " is beyond the export's " + export.size() + " bytes");
        return true;
    }

    private void read(Request r) throws IOException {
        if (outOfRange(r, Nbd.EINVAL)) {
            return;
        }
        int length = (int) r.length(); // the decoder refused anything over the maximum payload
        if (!replies.structured()) {
            ByteBuffer data = ByteBuffer.allocate(length);
            export.read(r.offset(), data);
            replies.data(r.cookie(), data.flip());
            return;
        }
        if (length == 0) {
            replies.chunks(List.of(Chunks.none(r.cookie())));
            return;
        }
        if (r.hasFlag(Nbd.CMD_FLAG_DF)) {
            ByteBuffer data = ByteBuffer.allocate(length);
            export.read(r.offset(), data);
            replies.chunks(List.of(Chunks.offsetData(r.cookie(), 0, r.offset(), data.flip())));
            return;
        }
        // Data where pages are written, holes elsewhere: the client is told what it need not copy.
        List<Chunk> chunks = new ArrayList<>();
        long at = r.offset();
        for (Extent e : export.extents(r.offset(), length, Integer.MAX_VALUE)) {
            if (e.flags() == 0) {
                ByteBuffer data = ByteBuffer.allocate((int) e.length());
                export.read(at, data);
                chunks.add(Chunks.offsetData(r.cookie(), 0, at, data.flip()));
            } else {
                chunks.add(Chunks.offsetHole(r.cookie(), 0, at, (int) e.length()));
            }
            at += e.length();
        }
        replies.chunks(chunks);
    }

    private void write(Request r) throws IOException {
        if (outOfRange(r, Nbd.ENOSPC)) {
            return;
        }
        export.write(r.offset(), r.payload());
        replies.ok(r.cookie());
    }

    private void trim(Request r) throws IOException {
        if (outOfRange(r, Nbd.EINVAL)) {
            return;
        }
        export.zero(r.offset(), r.length(), false);
        replies.ok(r.cookie());
    }

    private void cache(Request r) throws IOException {
        if (outOfRange(r, Nbd.EINVAL)) {
            return;
        }
        replies.ok(r.cookie()); // already in memory
    }

    private void writeZeroes(Request r) throws IOException {
        if (outOfRange(r, Nbd.ENOSPC)) {
            return;
        }
        export.zero(r.offset(), r.length(), r.hasFlag(Nbd.CMD_FLAG_NO_HOLE));
        replies.ok(r.cookie());
    }

    private void blockStatus(Request r) throws IOException {
        if (!replies.structured() || contexts.isEmpty()) {
            replies.error(r.cookie(), Nbd.EINVAL, "BLOCK_STATUS without a selected meta context");
            return;
        }
        if (r.length() == 0) {
            replies.error(r.cookie(), Nbd.EINVAL, "BLOCK_STATUS of no bytes");
            return;
        }
        if (outOfRange(r, Nbd.EINVAL)) {
            return;
        }
        List<Extent> extents = export.extents(r.offset(), r.length(),
                r.hasFlag(Nbd.CMD_FLAG_REQ_ONE) ? 1 : MAX_EXTENTS);
        int[] descriptors = new int[2 * extents.size()];
        for (int i = 0; i < extents.size(); i++) {
            descriptors[2 * i] = (int) extents.get(i).length(); // at most the request's 32-bit length
            descriptors[2 * i + 1] = extents.get(i).flags();
        }
        List<Chunk> chunks = new ArrayList<>();
        for (Map.Entry<Integer, String> context : contexts.entrySet()) {
            // base:allocation is the only context offered.
            chunks.add(Chunks.blockStatus(r.cookie(), 0, context.getKey(), descriptors));
        }
        replies.chunks(chunks);
    }
}
