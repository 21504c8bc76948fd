package org.flexnbd.upstream;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongPredicate;
import java.util.logging.Logger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.service.RequestLedger.Answer;
import org.flexnbd.protocol.service.RequestLedger.Witness;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.protocol.service.WriteJournal.Kept;
import org.flexnbd.upstream.Connection.Binding;

/**
 * The write journal as one upstream connection takes part in it; no I/O. It knows the journal epoch the connection
 * started in, which FLUSH in flight on it covers what, and the proxy's own FLUSH when one is out; it decides what
 * an upstream's acknowledgement or a FLUSH's success means for the journal, before the client is told.
 * <p>
 * Only an upstream that advertises FLUSH may keep acknowledged writes in a volatile cache: on a connection to one
 * that does not, nothing is journalled.
 */
final class ConnectionJournal {
    private static final Logger LOG = Logger.getLogger(ConnectionJournal.class.getName());
    /** The cookie of the proxy's own FLUSH: one no client is likely to use at that moment. */
    static final long OWN_FLUSH = 0x666c65786e626421L; // "flexnbd!"
    private static final Request OWN_FLUSH_REQUEST = Request.of(Nbd.CMD_FLUSH, 0, OWN_FLUSH, 0, 0);

    private final WriteJournal journal;
    /** What the journal knows this connection by: a FLUSH without CAN_MULTI_CONN covers its own writes only. */
    private final Object origin;
    private final boolean sendsFlush;
    private final boolean multiConn;
    private final String upstream;
    private final long epoch;
    /** The journal's mark when each client FLUSH in flight here was written, by cookie. */
    private final Map<Long, Long> flushMarks = new ConcurrentHashMap<>();
    /** The journal's mark of the proxy's own FLUSH in flight here, or -1. */
    private volatile long ownFlushMark = -1;
    /** Set by {@link #keep} when the journal became half full or full; told once the ledger's lock is let go. */
    private boolean fuller;
    private final Witness witness = this::keep;

    /**
     * @param transmissionFlags the export's, as negotiated on this connection
     * @param upstream the upstream's name, for the log
     */
    ConnectionJournal(WriteJournal journal, Object origin, int transmissionFlags, String upstream) {
        this.journal = journal;
        this.origin = origin;
        this.sendsFlush = (transmissionFlags & Nbd.FLAG_SEND_FLUSH) != 0;
        this.multiConn = (transmissionFlags & Nbd.FLAG_CAN_MULTI_CONN) != 0;
        this.upstream = upstream;
        this.epoch = journal.epoch();
    }

    /** The journal's epoch when the connection started: a loss in it replaces every connection of it. */
    long epoch() {
        return epoch;
    }

    /**
     * The journal is half full and this connection has no FLUSH of the proxy's own out. Not after ESHUTDOWN
     * ({@code refusing}), nor while a reply with its cookie is awaited here, for any client (the two replies
     * could not be told apart).
     */
    boolean ownFlushDue(boolean refusing, LongPredicate awaitsReply) {
        if (!journal.wantsFlush() || ownFlushMark >= 0 || refusing || journal.holding()) {
            return false;
        }
        // Without CAN_MULTI_CONN a FLUSH here makes only this connection's writes durable: with none waiting, it
        // would empty nothing, and its success would ask for the next at once (184,148 FLUSHes in 5 s, seen).
        if (!multiConn && !journal.awaitsFlushOf(origin)) {
            return false;
        }
        return !awaitsReply.test(OWN_FLUSH);
    }

    /**
     * Whether the connection must not end quietly yet: writes acknowledged on it wait for a FLUSH that only it can
     * send (the upstream has no CAN_MULTI_CONN). A DISCONNECT then waits for the proxy's own FLUSH first.
     */
    boolean awaitsOwnFlush() {
        return sendsFlush && !multiConn && journal.awaitsFlushOf(origin);
    }

    /** Whether the proxy's own FLUSH is out on this connection. */
    boolean ownFlushOut() {
        return ownFlushMark >= 0;
    }

    /** The proxy's own FLUSH is about to be written: returns it, covering what the journal holds now. */
    Request beginOwnFlush() {
        ownFlushMark = journal.mark();
        return OWN_FLUSH_REQUEST;
    }

    /** A client's request with the proxy's FLUSH's cookie while that FLUSH is out: its reply would be ambiguous. */
    boolean clashesWithOwnFlush(Request next) {
        return next.cookie() == OWN_FLUSH && ownFlushMark >= 0;
    }

    /** {@code r} is about to be written: a client's FLUSH covers, once it succeeds, what the journal holds now. */
    void writing(Request r) {
        if (r.type() == Nbd.CMD_FLUSH && journal.isOn() && sendsFlush) {
            flushMarks.put(r.cookie(), journal.mark());
        }
    }

    /** The proxy's own FLUSH if a reply with {@code cookie} may answer it, else null. */
    Request awaitedOwnFlush(long cookie) {
        return cookie == OWN_FLUSH && ownFlushMark >= 0 ? OWN_FLUSH_REQUEST : null;
    }

    boolean isOwnFlush(Request r) {
        return r == OWN_FLUSH_REQUEST;
    }

    /**
     * The upstream answered a client's {@code request} with {@code reply} (not ESHUTDOWN): it goes to the client's
     * ledger, and the journal sees it first. A successful FLUSH takes out what it covers; an acknowledged write goes
     * into the journal under the ledger's lock, where its payload cannot go meanwhile (one lookup of the request, not
     * two, and no reference taken only to be given back). {@link Answer#WITHHELD} when the acknowledgement came too
     * late to be put in order (an upstream loss ended this connection's epoch): it must not reach the client, and
     * the connection must be given up, so that the write is sent again after the replay. The ledger has the reply's
     * memory whatever the answer.
     */
    Answer answered(Binding b, Request request, Reply reply) {
        if (request != null && request.type() == Nbd.CMD_FLUSH && sendsFlush && reply.error() == 0) {
            Long mark = flushMarks.remove(request.cookie()); // none when the journal was off as it was written
            if (mark != null) {
                journal.flushed(origin, mark, multiConn);
            }
        }
        Answer a = b.ledger().answered(b.token(), reply, sendsFlush ? witness : null);
        if (fuller) {
            fuller = false;
            journal.tellChanged(); // not under the ledger's lock: those told take other clients' ledgers' locks
        }
        return a;
    }

    /** An acknowledged request as the ledger's witness, under its lock: a write is kept, or refused when too late. */
    private boolean keep(Request sent, Reply reply) {
        if (reply.error() != 0 || !WriteJournal.journals(sent)) {
            return true; // the journal's lock only for writes: a READ's reply, most traffic, has nothing to do here
        }
        Kept k = journal.keep(origin, epoch, sent);
        fuller |= k == Kept.KEPT_NOW_FULLER;
        return k != Kept.TOO_LATE;
    }

    /**
     * The upstream answered the proxy's own FLUSH. A refusal (an error, not a lost connection) means the journal could
     * never be emptied: it is switched off. Returns false when the answer is ESHUTDOWN: a server going away refuses
     * everything, so that is no refusal of FLUSH; the journal keeps its writes, and the connection must be given up
     * so that they are written again on the next one.
     */
    boolean ownFlushAnswered(Reply reply) {
        long mark = ownFlushMark;
        int error = reply.error();
        reply.release();
        ownFlushMark = -1;
        if (error == Nbd.ESHUTDOWN) {
            return false;
        }
        if (error != 0) {
            // Seen from nbdkit 1.32 speaking oldstyle: it advertises FLUSH and refuses it (EINVAL).
            LOG.severe("upstream " + upstream + " refused the proxy's own FLUSH with error " + error
                    + ": acknowledged writes cannot be made durable, so the write journal is switched off");
            journal.giveUp();
            return true;
        }
        journal.flushed(origin, mark, multiConn);
        return true;
    }
}
