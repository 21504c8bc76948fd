package org.flexnbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.tls.StartTls;
import org.flexnbd.protocol.tls.TlsMode;

/**
 * The client side of the handshake. Takes whatever the server speaks: oldstyle, or newstyle; with a fixed newstyle
 * server it asks for structured replies and the wanted meta contexts, then GO (falling back to EXPORT_NAME for a
 * server that does not know GO). With TLS on or required it first asks for STARTTLS; when TLS is required, a server
 * that does not agree to it is a failure, and nothing but that question has been sent to it in plain text.
 */
public final class ClientHandshake {
    private final WireInput in;
    private final WireOutput out;
    private final String exportName;
    private final List<String> wantedContexts;
    private final TlsMode tls;
    private final StartTls startTls;
    private boolean noZeroes;

    private ClientHandshake(WireInput in, WireOutput out, String exportName, List<String> wantedContexts,
            TlsMode tls, StartTls startTls) {
        this.in = in;
        this.out = out;
        this.exportName = exportName;
        this.wantedContexts = wantedContexts;
        this.tls = tls;
        this.startTls = startTls;
    }

    /** Negotiates until the transmission phase; any refusal or violation throws, with the reason. */
    public static UpstreamExport negotiate(WireInput in, WireOutput out, String exportName, List<String> metaContexts)
            throws IOException {
        return negotiate(in, out, exportName, metaContexts, TlsMode.OFF, null);
    }

    /** The same, asking for TLS as {@code tls} says; {@code startTls} runs it once the server has agreed. */
    public static UpstreamExport negotiate(WireInput in, WireOutput out, String exportName, List<String> metaContexts,
            TlsMode tls, StartTls startTls) throws IOException {
        return new ClientHandshake(in, out, exportName, metaContexts, tls, startTls).negotiate();
    }

    private UpstreamExport negotiate() throws IOException {
        long magic = in.readLong();
        if (magic != Nbd.NBDMAGIC) {
            throw NbdException.fatal(String.format("not an NBD server: greeting 0x%016x", magic));
        }
        long style = in.readLong();
        if (style == Nbd.OLDSTYLE_MAGIC) {
            refuseWithoutTls("speaks the oldstyle handshake, which has no TLS");
            return new UpstreamExport(OldstyleHello.readAfterMagic(in), true, false, Map.of());
        }
        if (style != Nbd.IHAVEOPT) {
            throw NbdException.fatal(String.format("unknown handshake magic 0x%016x", style));
        }
        int serverFlags = in.readUnsignedShort();
        boolean fixed = (serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) != 0;
        noZeroes = (serverFlags & Nbd.FLAG_NO_ZEROES) != 0;
        out.writeInt(serverFlags & (Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES));
        if (!fixed) {
            refuseWithoutTls("is not fixed newstyle, so it cannot be asked for TLS");
            return new UpstreamExport(exportName(), false, false, Map.of());
        }
        if (tls != TlsMode.OFF) {
            startTls();
        }
        boolean structured = structuredReplies();
        Map<String, Integer> contexts = structured && !wantedContexts.isEmpty() ? setMetaContexts() : Map.of();
        ExportInfo export = go();
        if (export == null) {
            export = exportName();
        }
        return new UpstreamExport(export, false, structured, contexts);
    }

    private void refuseWithoutTls(String why) throws NbdException {
        if (tls == TlsMode.REQUIRE) {
            throw NbdException.fatal("the server " + why + ", and TLS is required");
        }
    }

    private void startTls() throws IOException {
        OptionCodec.OptionReply r = send(Nbd.OPT_STARTTLS, ByteBuffer.allocate(0));
        if (r.type() == Nbd.REP_ACK) {
            if (in.buffered() > 0) {
                throw NbdException.fatal(in.buffered() + " plain bytes after the server agreed to STARTTLS");
            }
            startTls.start();
        } else if (r.isError()) {
            refuseWithoutTls(String.format("refused STARTTLS (reply 0x%08x)", r.type()));
        } else {
            throw NbdException.fatal("unexpected reply " + r.type() + " to STARTTLS");
        }
    }

    private OptionCodec.OptionReply send(int option, ByteBuffer data) throws IOException {
        OptionCodec.writeOption(out, option, data);
        out.flush();
        return reply(option);
    }

    private OptionCodec.OptionReply reply(int option) throws IOException {
        OptionCodec.OptionReply r = OptionCodec.readReply(in);
        if (r.option() != option) {
            throw NbdException.fatal("reply to option " + r.option() + " while waiting for " + option);
        }
        return r;
    }

    private boolean structuredReplies() throws IOException {
        OptionCodec.OptionReply r = send(Nbd.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0));
        if (r.type() == Nbd.REP_ACK) {
            return true;
        }
        if (r.isError()) {
            return false;
        }
        throw NbdException.fatal("unexpected reply " + r.type() + " to STRUCTURED_REPLY");
    }

    private Map<String, Integer> setMetaContexts() throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        int size = 4 + name.length + 4;
        for (String q : wantedContexts) {
            size += 4 + q.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer data = ByteBuffer.allocate(size).putInt(name.length).put(name).putInt(wantedContexts.size());
        for (String q : wantedContexts) {
            data.put(OptionCodec.lengthPrefixed(q));
        }
        OptionCodec.OptionReply r = send(Nbd.OPT_SET_META_CONTEXT, data.flip());
        Map<String, Integer> contexts = new HashMap<>();
        while (r.type() == Nbd.REP_META_CONTEXT) {
            ByteBuffer d = r.data();
            if (d.remaining() < 4) {
                throw NbdException.fatal("META_CONTEXT reply of " + d.remaining() + " bytes");
            }
            int id = d.getInt();
            byte[] b = new byte[d.remaining()];
            d.get(b);
            contexts.put(new String(b, StandardCharsets.UTF_8), id);
            r = reply(Nbd.OPT_SET_META_CONTEXT);
        }
        if (r.isError()) {
            return Map.of(); // the server has none of them: block status is then not offered
        }
        if (r.type() != Nbd.REP_ACK) {
            throw NbdException.fatal("unexpected reply " + r.type() + " to SET_META_CONTEXT");
        }
        return contexts;
    }

    /** GO with the export name, asking for block sizes; null if the server does not know GO. */
    private ExportInfo go() throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer data = ByteBuffer.allocate(4 + name.length + 2 + 4).putInt(name.length).put(name).putShort((short) 2)
                .putShort((short) Nbd.INFO_BLOCK_SIZE).putShort((short) Nbd.INFO_DESCRIPTION).flip();
        OptionCodec.OptionReply r = send(Nbd.OPT_GO, data);
        long size = -1;
        int flags = 0;
        int min = 1;
        int preferred = 4096;
        int max = Nbd.MAX_PAYLOAD;
        String description = "";
        while (r.type() == Nbd.REP_INFO) {
            ByteBuffer d = r.data();
            if (d.remaining() < 2) {
                throw NbdException.fatal("empty INFO reply");
            }
            int info = d.getShort() & 0xffff;
            if (info == Nbd.INFO_EXPORT) {
                if (d.remaining() != 10) {
                    throw NbdException.fatal("INFO_EXPORT of " + (d.remaining() + 2) + " bytes");
                }
                size = d.getLong();
                flags = d.getShort() & 0xffff;
            } else if (info == Nbd.INFO_BLOCK_SIZE) {
                if (d.remaining() != 12) {
                    throw NbdException.fatal("INFO_BLOCK_SIZE of " + (d.remaining() + 2) + " bytes");
                }
                min = d.getInt();
                preferred = d.getInt();
                max = d.getInt();
            } else if (info == Nbd.INFO_DESCRIPTION) {
                byte[] b = new byte[Math.min(d.remaining(), Nbd.MAX_STRING)];
                d.get(b);
                description = new String(b, StandardCharsets.UTF_8);
            }
            r = reply(Nbd.OPT_GO);
        }
        if (r.type() == Nbd.REP_ERR_UNSUP) {
            return null;
        }
        if (r.isError()) {
            throw NbdException.fatal("server refused export '" + exportName + "': " + errorName(r.type())
                    + message(r));
        }
        if (r.type() != Nbd.REP_ACK) {
            throw NbdException.fatal("unexpected reply " + r.type() + " to GO");
        }
        if (size < 0) {
            throw NbdException.fatal("GO acknowledged without INFO_EXPORT");
        }
        // The sizes are unsigned; a maximum of up to 4 GiB - 1 is legal, and the proxy caps it at 32 MiB anyway.
        long maxUnsigned = Integer.toUnsignedLong(max);
        int cappedMax = (int) Math.min(maxUnsigned, Nbd.MAX_PAYLOAD);
        if (min < 1 || preferred < min || Integer.toUnsignedLong(preferred) > maxUnsigned || cappedMax < min) {
            throw NbdException.fatal("inconsistent block sizes " + Integer.toUnsignedString(min) + "/"
                    + Integer.toUnsignedString(preferred) + "/" + Integer.toUnsignedString(max));
        }
        return new ExportInfo(exportName, size, flags, min, Math.min(preferred, cappedMax), cappedMax, description);
    }

    private ExportInfo exportName() throws IOException {
        OptionCodec.writeOption(out, Nbd.OPT_EXPORT_NAME,
                ByteBuffer.wrap(exportName.getBytes(StandardCharsets.UTF_8)));
        out.flush();
        long size = in.readLong();
        int flags = in.readUnsignedShort();
        if (!noZeroes) {
            in.skip(124);
        }
        if (size < 0) {
            throw NbdException.fatal("export size " + Long.toUnsignedString(size));
        }
        return ExportInfo.of(exportName, size, flags);
    }

    private static String message(OptionCodec.OptionReply r) {
        ByteBuffer d = r.data();
        if (!d.hasRemaining()) {
            return "";
        }
        byte[] b = new byte[Math.min(d.remaining(), 200)];
        d.get(b);
        return ": " + new String(b, StandardCharsets.UTF_8);
    }

    static String errorName(int type) {
        return switch (type) {
            case Nbd.REP_ERR_UNSUP -> "unsupported";
            case Nbd.REP_ERR_POLICY -> "forbidden by policy";
            case Nbd.REP_ERR_INVALID -> "invalid";
            case Nbd.REP_ERR_PLATFORM -> "not on this platform";
            case Nbd.REP_ERR_TLS_REQD -> "TLS required";
            case Nbd.REP_ERR_UNKNOWN -> "unknown export";
            case Nbd.REP_ERR_SHUTDOWN -> "server shutting down";
            case Nbd.REP_ERR_BLOCK_SIZE_REQD -> "block size required";
            case Nbd.REP_ERR_TOO_BIG -> "too big";
            default -> String.format("error 0x%08x", type);
        };
    }
}
