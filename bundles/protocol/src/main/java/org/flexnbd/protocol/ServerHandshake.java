package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.tls.StartTls;
import org.flexnbd.protocol.tls.TlsMode;

/**
 * The server side of the handshake: the oldstyle hello, or a fixed newstyle negotiation that offers one export.
 * STARTTLS is taken when TLS is on; with TLS required, every option before it but ABORT is refused with
 * NBD_REP_ERR_TLS_REQD (EXPORT_NAME, which has no error reply, ends the connection). Options it does not support
 * (EXTENDED_HEADERS, PEEK_EXPORT and unknown ones) get NBD_REP_ERR_UNSUP.
 */
public final class ServerHandshake {
    private static final int HANDSHAKE_FLAGS = Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES;

    private final ServerOffer offer;
    private final WireInput in;
    private final WireOutput out;
    private final TlsMode tls;
    private final StartTls startTls;
    private boolean encrypted;
    private boolean fixed;
    private boolean noZeroes;
    private boolean structured;
    private Map<Integer, String> selected = Map.of();

    private ServerHandshake(ServerOffer offer, WireInput in, WireOutput out, TlsMode tls, StartTls startTls) {
        this.offer = offer;
        this.in = in;
        this.out = out;
        this.tls = tls;
        this.startTls = startTls;
    }

    /** Sends the oldstyle hello. */
    public static ClientAgreement oldstyle(WireOutput out, ExportInfo export) throws IOException {
        OldstyleHello.write(out, export);
        out.flush();
        return new ClientAgreement(export, true, false, Map.of());
    }

    /**
     * Negotiates with a newstyle client until it chooses the export (EXPORT_NAME or GO). Returns null when the client
     * aborts. Throws {@link NbdException} when it breaks the protocol; the connection must then be closed.
     */
    public static ClientAgreement newstyle(WireInput in, WireOutput out, ServerOffer offer) throws IOException {
        return newstyle(in, out, offer, TlsMode.OFF, null);
    }

    /**
     * The same with TLS taken as {@code tls} says: on STARTTLS the ACK is sent, then {@code startTls} turns the
     * connection under {@code in} and {@code out} into TLS, and the negotiation starts afresh inside it.
     */
    public static ClientAgreement newstyle(WireInput in, WireOutput out, ServerOffer offer, TlsMode tls,
            StartTls startTls) throws IOException {
        return new ServerHandshake(offer, in, out, tls, startTls).negotiate();
    }

    private ClientAgreement negotiate() throws IOException {
        out.writeLong(Nbd.NBDMAGIC).writeLong(Nbd.IHAVEOPT).writeShort(HANDSHAKE_FLAGS);
        out.flush();
        int clientFlags = in.readInt();
        if ((clientFlags & ~HANDSHAKE_FLAGS) != 0) {
            throw NbdException.fatal(String.format("unknown client flags 0x%08x", clientFlags));
        }
        fixed = (clientFlags & Nbd.FLAG_C_FIXED_NEWSTYLE) != 0;
        noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
        while (true) {
            OptionCodec.Option option = OptionCodec.readOption(in);
            if (!fixed && option.option() != Nbd.OPT_EXPORT_NAME) {
                // A client that is not fixed newstyle cannot take an option reply.
                throw NbdException.fatal("option " + option.option() + " from a client that is not fixed newstyle");
            }
            ClientAgreement done = handle(option);
            out.flush();
            if (done != null) {
                return done == ABORTED ? null : done;
            }
        }
    }

    private static final ClientAgreement ABORTED = new ClientAgreement(ExportInfo.of("", 0, 0), false, false, Map.of());

    private ClientAgreement handle(OptionCodec.Option option) throws IOException {
        int opt = option.option();
        if (option.tooBig()) {
            if (opt == Nbd.OPT_EXPORT_NAME) {
                throw NbdException.fatal("EXPORT_NAME option over " + Nbd.MAX_OPTION_LENGTH + " bytes");
            }
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_TOO_BIG, "option data too long");
            return null;
        }
        ByteBuffer data = option.data();
        if (tls == TlsMode.REQUIRE && !encrypted && opt != Nbd.OPT_STARTTLS && opt != Nbd.OPT_ABORT) {
            if (opt == Nbd.OPT_EXPORT_NAME) {
                throw NbdException.fatal("EXPORT_NAME without TLS, which is required");
            }
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_TLS_REQD, "TLS is required: send STARTTLS first");
            return null;
        }
        switch (opt) {
            case Nbd.OPT_STARTTLS:
                if (tls == TlsMode.OFF) {
                    OptionCodec.writeError(out, opt, Nbd.REP_ERR_UNSUP, "TLS is not offered");
                } else {
                    startTls(data);
                }
                return null;
            case Nbd.OPT_EXPORT_NAME:
                return exportName(data);
            case Nbd.OPT_ABORT:
                OptionCodec.writeReply(out, opt, Nbd.REP_ACK);
                return ABORTED;
            case Nbd.OPT_LIST:
                list(data);
                return null;
            case Nbd.OPT_INFO:
            case Nbd.OPT_GO:
                return infoOrGo(opt, data);
            case Nbd.OPT_STRUCTURED_REPLY:
                structuredReply(data);
                return null;
            case Nbd.OPT_LIST_META_CONTEXT:
            case Nbd.OPT_SET_META_CONTEXT:
                metaContext(opt, data);
                return null;
            default:
                OptionCodec.writeError(out, opt, Nbd.REP_ERR_UNSUP, "option " + opt + " not supported");
                return null;
        }
    }

    private void startTls(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            OptionCodec.writeError(out, Nbd.OPT_STARTTLS, Nbd.REP_ERR_INVALID, "STARTTLS takes no data");
            return;
        }
        if (encrypted) {
            OptionCodec.writeError(out, Nbd.OPT_STARTTLS, Nbd.REP_ERR_INVALID, "TLS is already on");
            return;
        }
        if (in.buffered() > 0) {
            // Those bytes came in plain text after STARTTLS and before its reply: not the TLS handshake.
            throw NbdException.fatal(in.buffered() + " bytes sent after STARTTLS before its reply");
        }
        OptionCodec.writeReply(out, Nbd.OPT_STARTTLS, Nbd.REP_ACK);
        out.flush();
        startTls.start();
        encrypted = true;
        // What was agreed in plain text could have been changed by anyone on the way: it is agreed again inside.
        structured = false;
        selected = Map.of();
    }

    private ClientAgreement exportName(ByteBuffer data) throws IOException {
        if (data.remaining() > Nbd.MAX_STRING) {
            throw NbdException.fatal("export name of " + data.remaining() + " bytes");
        }
        byte[] b = new byte[data.remaining()];
        data.get(b);
        String name = new String(b, StandardCharsets.UTF_8);
        if (!offer.serves(name)) {
            // EXPORT_NAME has no error reply: the spec has the server close the connection.
            throw NbdException.fatal("client asked for unknown export '" + name + "'");
        }
        ExportInfo e = negotiatedExport();
        out.writeLong(e.size()).writeShort(e.transmissionFlags());
        if (!noZeroes) {
            out.writeZeroes(124);
        }
        return agreement();
    }

    private ClientAgreement agreement() {
        return new ClientAgreement(negotiatedExport(), false, structured, selected);
    }

    /** The export as this client may see it: SEND_DF only with structured replies, as the spec requires. */
    private ExportInfo negotiatedExport() {
        ExportInfo e = offer.export();
        return structured ? e : e.withTransmissionFlags(e.transmissionFlags() & ~Nbd.FLAG_SEND_DF);
    }

    private void list(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            OptionCodec.writeError(out, Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "LIST takes no data");
            return;
        }
        OptionCodec.writeReply(out, Nbd.OPT_LIST, Nbd.REP_SERVER, OptionCodec.lengthPrefixed(offer.export().name()));
        OptionCodec.writeReply(out, Nbd.OPT_LIST, Nbd.REP_ACK);
    }

    private ClientAgreement infoOrGo(int opt, ByteBuffer data) throws IOException {
        String name;
        List<Integer> requests = new ArrayList<>();
        try {
            name = OptionCodec.string(data);
            if (data.remaining() < 2) {
                throw NbdException.fatal("no information request count");
            }
            int n = data.getShort() & 0xffff;
            if (data.remaining() != 2 * n) {
                throw NbdException.fatal(n + " information requests in " + data.remaining() + " bytes");
            }
            for (int i = 0; i < n; i++) {
                requests.add(data.getShort() & 0xffff);
            }
        } catch (NbdException malformed) {
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_INVALID, malformed.getMessage());
            return null;
        }
        if (!offer.serves(name)) {
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_UNKNOWN, "no export '" + name + "'");
            return null;
        }
        ExportInfo e = negotiatedExport();
        OptionCodec.writeReply(out, opt, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT)
                .putLong(e.size()).putShort((short) e.transmissionFlags()).flip());
        if (requests.contains(Nbd.INFO_NAME)) {
            OptionCodec.writeReply(out, opt, Nbd.REP_INFO, infoString(Nbd.INFO_NAME, e.name()));
        }
        if (requests.contains(Nbd.INFO_DESCRIPTION) && !e.description().isEmpty()) {
            OptionCodec.writeReply(out, opt, Nbd.REP_INFO, infoString(Nbd.INFO_DESCRIPTION, e.description()));
        }
        // The defaults are what a client assumes when none are sent: sending them would describe the export
        // differently from an upstream that sent none.
        boolean defaultSizes = e.minBlock() == 1 && e.preferredBlock() == 4096 && e.maxBlock() == Nbd.MAX_PAYLOAD;
        if (requests.contains(Nbd.INFO_BLOCK_SIZE) && !defaultSizes) {
            OptionCodec.writeReply(out, opt, Nbd.REP_INFO, ByteBuffer.allocate(14)
                    .putShort((short) Nbd.INFO_BLOCK_SIZE).putInt(e.minBlock()).putInt(e.preferredBlock())
                    .putInt(e.maxBlock()).flip());
        }
        OptionCodec.writeReply(out, opt, Nbd.REP_ACK);
        return opt == Nbd.OPT_GO ? agreement() : null;
    }

    /** An NBD_REP_INFO payload carrying a string: the info type, then the string without a length prefix. */
    private static ByteBuffer infoString(int type, String value) {
        byte[] b = value.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(2 + b.length).putShort((short) type).put(b).flip();
    }

    private void structuredReply(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            OptionCodec.writeError(out, Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
        } else if (!offer.structuredReplies()) {
            OptionCodec.writeError(out, Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_UNSUP, "structured replies not offered");
        } else {
            structured = true;
            OptionCodec.writeReply(out, Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
        }
    }

    private void metaContext(int opt, ByteBuffer data) throws IOException {
        String name;
        List<String> queries = new ArrayList<>();
        try {
            name = OptionCodec.string(data);
            if (data.remaining() < 4) {
                throw NbdException.fatal("no query count");
            }
            long n = data.getInt() & 0xffffffffL;
            for (long i = 0; i < n; i++) {
                queries.add(OptionCodec.string(data));
            }
            if (data.hasRemaining()) {
                throw NbdException.fatal(data.remaining() + " bytes after the queries");
            }
        } catch (NbdException malformed) {
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_INVALID, malformed.getMessage());
            return;
        }
        if (opt == Nbd.OPT_SET_META_CONTEXT && !structured) {
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_INVALID, "SET_META_CONTEXT before STRUCTURED_REPLY");
            return;
        }
        if (!offer.serves(name)) {
            OptionCodec.writeError(out, opt, Nbd.REP_ERR_UNKNOWN, "no export '" + name + "'");
            return;
        }
        Map<Integer, String> chosen = new HashMap<>();
        for (String context : offer.metaContexts()) {
            if (matches(opt, queries, context)) {
                int id = opt == Nbd.OPT_SET_META_CONTEXT ? offer.contextId(context) : 0;
                chosen.put(id, context);
                byte[] contextName = context.getBytes(StandardCharsets.UTF_8);
                OptionCodec.writeReply(out, opt, Nbd.REP_META_CONTEXT,
                        ByteBuffer.allocate(4 + contextName.length).putInt(id).put(contextName).flip());
            }
        }
        if (opt == Nbd.OPT_SET_META_CONTEXT) {
            selected = chosen;
        }
        OptionCodec.writeReply(out, opt, Nbd.REP_ACK);
    }

    private static boolean matches(int opt, List<String> queries, String context) {
        if (queries.isEmpty()) {
            return opt == Nbd.OPT_LIST_META_CONTEXT;
        }
        for (String q : queries) {
            boolean namespaceQuery = opt == Nbd.OPT_LIST_META_CONTEXT && q.endsWith(":")
                    && context.startsWith(q);
            if (q.equals(context) || namespaceQuery) {
                return true;
            }
        }
        return false;
    }
}
