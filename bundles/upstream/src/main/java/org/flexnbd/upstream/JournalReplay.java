package org.flexnbd.upstream;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;

/**
 * Writes the journal again on a fresh connection, before anything else is sent on it: one write at a time, since
 * a server may carry out requests in flight together in any order, and two writes to the same blocks must land in
 * the order they were acknowledged. Any failure (an error reply, a broken connection) is an IOException: the
 * connection is then given up and the next one replays from the start.
 */
final class JournalReplay {
    private JournalReplay() {
    }

    /** Returns the payload bytes written. */
    static long write(Connection c, List<Request> writes) throws IOException {
        ReplyAssembler assembler = new ReplyAssembler(ReplyValidator.of(c.export), Map.of());
        long bytes = 0;
        long cookie = 0;
        try {
            for (Request w : writes) {
                Request again = new Request(w.flags(), w.type(), ++cookie, w.offset(), w.length(), w.payload(),
                        null); // the payload's reference stays with the caller's list
                RequestCodec.write(c.out(), again);
                c.out().flush();
                Reply reply = null;
                while (reply == null) {
                    long expected = cookie;
                    ReplyMessage m = ReplyCodec.read(c.in(), k -> k == expected ? again : null, Nbd.MAX_PAYLOAD);
                    reply = assembler.add(m, again);
                }
                int error = reply.error();
                reply.release();
                if (error != 0) {
                    throw new IOException("the upstream answered error " + error + " to " + again);
                }
                bytes += w.payloadLength();
            }
        } finally {
            assembler.discard();
        }
        return bytes;
    }
}
