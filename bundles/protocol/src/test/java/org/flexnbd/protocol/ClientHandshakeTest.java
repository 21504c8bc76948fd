package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.Test;

/** The client side of the handshake against scripted servers. */
public class ClientHandshakeTest {
    private static final long SIZE = 1L << 33;
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA
            | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_CAN_MULTI_CONN;
    private static final List<String> BASE = List.of("base:allocation");

    private final ByteArrayOutputStream sent = new ByteArrayOutputStream();

    private UpstreamExport negotiate(Bytes server, String name, List<String> contexts) throws IOException {
        WireInput in = new WireInput(Channels.newChannel(new ByteArrayInputStream(server.array())), 64);
        WireOutput out = new WireOutput(Channels.newChannel(sent), 64);
        return ClientHandshake.negotiate(in, out, name, contexts);
    }

    private NbdException refused(Bytes server, String name, List<String> contexts) throws IOException {
        try {
            UpstreamExport e = negotiate(server, name, contexts);
            fail("negotiated " + e);
            return null;
        } catch (NbdException e) {
            assertTrue(e.isFatal());
            return e;
        }
    }

    private static Bytes newstyle(int handshakeFlags) {
        return Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.IHAVEOPT).u16(handshakeFlags);
    }

    private static Bytes fixed() {
        return newstyle(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
    }

    private static Bytes oldstyle(long size, long flags) {
        return Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.OLDSTYLE_MAGIC).u64(size).u32(flags).zeroes(124);
    }

    private static Bytes info(int type, Bytes body) {
        return Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_INFO, Bytes.of().u16(type).raw(body));
    }

    private static Bytes infoExport() {
        return info(Nbd.INFO_EXPORT, Bytes.of().u64(SIZE).u16(FLAGS));
    }

    private static Bytes ack(int option) {
        return Bytes.optionReply(option, Nbd.REP_ACK);
    }

    private static Bytes context(int id, String name) {
        return Bytes.optionReply(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT, Bytes.of().u32(id).text(name));
    }

    /** What the client sends for GO: the name, then requests for block sizes and the description. */
    private static Bytes goOption(String name) {
        return Bytes.option(Nbd.OPT_GO, Bytes.of().string(name).u16(2).u16(Nbd.INFO_BLOCK_SIZE)
                .u16(Nbd.INFO_DESCRIPTION));
    }

    private static Bytes setContexts(String name, String... queries) {
        Bytes data = Bytes.of().string(name).u32(queries.length);
        for (String q : queries) {
            data.string(q);
        }
        return Bytes.option(Nbd.OPT_SET_META_CONTEXT, data);
    }

    // Oldstyle

    @Test
    public void oldstyleServer() throws IOException {
        UpstreamExport e = negotiate(oldstyle(SIZE, FLAGS), "ignored", BASE);
        assertTrue(e.oldstyle());
        assertFalse(e.structuredReplies());
        assertTrue(e.metaContexts().isEmpty());
        assertEquals(SIZE, e.export().size());
        assertEquals(FLAGS, e.export().transmissionFlags());
        assertEquals(0, sent.size());
    }

    @Test
    public void oldstyleWithFlagsBeyondSixteenBitsOrANegativeSize() throws IOException {
        refused(oldstyle(SIZE, 0x10001), "", BASE);
        refused(oldstyle(-1, 1), "", BASE);
    }

    @Test
    public void oldstyleHelloCutShort() throws IOException {
        byte[] whole = oldstyle(SIZE, FLAGS).array();
        for (int cut : new int[] {0, 8, 16, 20, 24, 28, 100, 151}) {
            try {
                negotiate(Bytes.of().raw(Arrays.copyOf(whole, cut)), "", BASE);
                fail("cut at " + cut);
            } catch (EOFException expected) {
                // ok
            }
        }
    }

    @Test
    public void oldstyleHelloAsServerHandshakeWritesIt() throws IOException {
        ExportInfo e = ExportInfo.of("", 12345, FLAGS);
        byte[] hello = Wire.encode(out -> OldstyleHello.write(out, e));
        assertEquals(e, negotiate(Bytes.of().raw(hello), "", BASE).export());
    }

    // Newstyle

    @Test
    public void plainNewstyleServerGetsExportName() throws IOException {
        Bytes server = newstyle(0).u64(SIZE).u16(FLAGS).zeroes(124);
        UpstreamExport e = negotiate(server, "disk", BASE);
        assertFalse(e.oldstyle());
        assertFalse(e.structuredReplies());
        assertEquals(ExportInfo.of("disk", SIZE, FLAGS), e.export());
        assertArrayEquals(Bytes.of().u32(0).raw(Bytes.option(Nbd.OPT_EXPORT_NAME, Bytes.of().text("disk"))).array(),
                sent.toByteArray());
    }

    @Test
    public void plainNewstyleServerWithNoZeroes() throws IOException {
        Bytes server = newstyle(Nbd.FLAG_NO_ZEROES).u64(SIZE).u16(FLAGS);
        UpstreamExport e = negotiate(server, "", BASE);
        assertEquals(SIZE, e.export().size());
        assertArrayEquals(Bytes.of().u32(Nbd.FLAG_C_NO_ZEROES).raw(Bytes.option(Nbd.OPT_EXPORT_NAME)).array(),
                sent.toByteArray());
    }

    @Test
    public void unknownHandshakeFlagsAreIgnoredAndNotEchoed() throws IOException {
        Bytes server = newstyle(0xfff0).u64(SIZE).u16(FLAGS).zeroes(124);
        negotiate(server, "", BASE);
        assertArrayEquals(Bytes.of().u32(0).array(), Arrays.copyOf(sent.toByteArray(), 4));
    }

    @Test
    public void fixedNewstyleWithGo() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(context(7, "base:allocation"))
                .raw(ack(Nbd.OPT_SET_META_CONTEXT)).raw(infoExport())
                .raw(info(Nbd.INFO_BLOCK_SIZE, Bytes.of().u32(512).u32(4096).u32(1 << 20)))
                .raw(info(Nbd.INFO_DESCRIPTION, Bytes.of().text("the disk")))
                .raw(info(Nbd.INFO_NAME, Bytes.of().text("disk"))).raw(info(77, Bytes.of().u32(0)))
                .raw(ack(Nbd.OPT_GO));
        UpstreamExport e = negotiate(server, "disk", BASE);
        assertFalse(e.oldstyle());
        assertTrue(e.structuredReplies());
        assertEquals(Map.of("base:allocation", 7), e.metaContexts());
        assertEquals(new ExportInfo("disk", SIZE, FLAGS, 512, 4096, 1 << 20, "the disk"), e.export());
        Bytes expected = Bytes.of().u32(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)
                .raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY)).raw(setContexts("disk", "base:allocation"))
                .raw(goOption("disk"));
        assertArrayEquals(expected.array(), sent.toByteArray());
    }

    @Test
    public void goWithoutBlockSizesTakesTheDefaults() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(ack(Nbd.OPT_SET_META_CONTEXT))
                .raw(infoExport()).raw(ack(Nbd.OPT_GO));
        UpstreamExport e = negotiate(server, "", BASE);
        assertEquals(ExportInfo.of("", SIZE, FLAGS), e.export());
        assertTrue(e.metaContexts().isEmpty());
    }

    @Test
    public void aMaximumBlockSizeOverTheProtocolsIsClamped() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(infoExport())
                .raw(info(Nbd.INFO_BLOCK_SIZE, Bytes.of().u32(1).u32(4096).u32(0x7fffffff))).raw(ack(Nbd.OPT_GO));
        assertEquals(Nbd.MAX_PAYLOAD, negotiate(server, "", List.of()).export().maxBlock());
    }

    @Test
    public void noContextsWantedMeansNoSetMetaContext() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(infoExport()).raw(ack(Nbd.OPT_GO));
        UpstreamExport e = negotiate(server, "", List.of());
        assertTrue(e.structuredReplies());
        Bytes expected = Bytes.of().u32(3).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY)).raw(goOption(""));
        assertArrayEquals(expected.array(), sent.toByteArray());
    }

    @Test
    public void goUnsupportedFallsBackToExportName() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(ack(Nbd.OPT_SET_META_CONTEXT))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_ERR_UNSUP)).u64(SIZE).u16(FLAGS);
        UpstreamExport e = negotiate(server, "disk", BASE);
        assertEquals(ExportInfo.of("disk", SIZE, FLAGS), e.export());
        Bytes expected = Bytes.of().u32(3).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(setContexts("disk", "base:allocation")).raw(goOption("disk"))
                .raw(Bytes.option(Nbd.OPT_EXPORT_NAME, Bytes.of().text("disk")));
        assertArrayEquals(expected.array(), sent.toByteArray());
    }

    @Test
    public void goUnsupportedByAServerWithoutNoZeroes() throws IOException {
        Bytes server = newstyle(Nbd.FLAG_FIXED_NEWSTYLE).raw(Bytes.optionReply(Nbd.OPT_STRUCTURED_REPLY,
                Nbd.REP_ERR_UNSUP)).raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_ERR_UNSUP)).u64(SIZE).u16(FLAGS)
                .zeroes(124);
        UpstreamExport e = negotiate(server, "", BASE);
        assertEquals(SIZE, e.export().size());
        assertEquals(Nbd.FLAG_C_FIXED_NEWSTYLE, sent.toByteArray()[3]);
    }

    @Test
    public void structuredRepliesRefused() throws IOException {
        Bytes server = fixed().raw(Bytes.optionReply(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_UNSUP,
                Bytes.of().text("no"))).raw(infoExport()).raw(ack(Nbd.OPT_GO));
        UpstreamExport e = negotiate(server, "", BASE);
        assertFalse(e.structuredReplies());
        assertTrue(e.metaContexts().isEmpty());
        // No SET_META_CONTEXT without structured replies.
        Bytes expected = Bytes.of().u32(3).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY)).raw(goOption(""));
        assertArrayEquals(expected.array(), sent.toByteArray());
    }

    @Test
    public void metaContextRefused() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.optionReply(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ERR_UNSUP)).raw(infoExport())
                .raw(ack(Nbd.OPT_GO));
        UpstreamExport e = negotiate(server, "", BASE);
        assertTrue(e.structuredReplies());
        assertTrue(e.metaContexts().isEmpty());
    }

    @Test
    public void goRefusedIsAnErrorCarryingTheServersMessage() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(ack(Nbd.OPT_SET_META_CONTEXT))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_ERR_UNKNOWN, Bytes.of().text("no such export here")));
        NbdException e = refused(server, "missing", BASE);
        assertTrue(e.getMessage(), e.getMessage().contains("missing"));
        assertTrue(e.getMessage(), e.getMessage().contains("unknown export"));
        assertTrue(e.getMessage(), e.getMessage().contains("no such export here"));
    }

    @Test
    public void everyGoErrorIsNamed() throws IOException {
        int[] errors = {Nbd.REP_ERR_POLICY, Nbd.REP_ERR_INVALID, Nbd.REP_ERR_PLATFORM, Nbd.REP_ERR_TLS_REQD,
                Nbd.REP_ERR_SHUTDOWN, Nbd.REP_ERR_BLOCK_SIZE_REQD, Nbd.REP_ERR_TOO_BIG, Nbd.REP_FLAG_ERROR | 99};
        for (int error : errors) {
            Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(Bytes.optionReply(Nbd.OPT_GO, error));
            NbdException e = refused(server, "", List.of());
            assertNotNull(e.getMessage());
            assertFalse(ClientHandshake.errorName(error).isEmpty());
        }
    }

    // Misbehaving servers

    @Test
    public void notAnNbdServer() throws IOException {
        refused(Bytes.of().text("SSH-2.0-OpenSSH_9.2p1 Debian\r\n"), "", BASE);
    }

    @Test
    public void unknownHandshakeStyle() throws IOException {
        refused(Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.REPLY_MAGIC).u16(3), "", BASE);
    }

    @Test
    public void badOptionReplyMagic() throws IOException {
        Bytes server = fixed().u64(Nbd.IHAVEOPT).u32(Nbd.OPT_STRUCTURED_REPLY).u32(Nbd.REP_ACK).u32(0);
        refused(server, "", BASE);
    }

    @Test
    public void aReplyToAnotherOption() throws IOException {
        refused(fixed().raw(ack(Nbd.OPT_GO)), "", BASE);
    }

    @Test
    public void anOversizedOptionReply() throws IOException {
        Bytes server = fixed().u64(Nbd.REPLY_MAGIC).u32(Nbd.OPT_STRUCTURED_REPLY).u32(Nbd.REP_ACK)
                .u32(Nbd.MAX_OPTION_LENGTH + 1L);
        refused(server, "", BASE);
    }

    @Test
    public void anUnexpectedReplyType() throws IOException {
        refused(fixed().raw(Bytes.optionReply(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_SERVER)), "", BASE);
        refused(fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.optionReply(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_INFO)), "", BASE);
        refused(fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_SERVER)), "",
                List.of());
    }

    @Test
    public void goAcknowledgedWithoutInfoExport() throws IOException {
        refused(fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(ack(Nbd.OPT_GO)), "", List.of());
    }

    @Test
    public void malformedInfoReplies() throws IOException {
        Bytes[] infos = {Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_INFO, Bytes.of().u8(0)),
                info(Nbd.INFO_EXPORT, Bytes.of().u64(SIZE)),
                info(Nbd.INFO_EXPORT, Bytes.of().u64(SIZE).u16(FLAGS).u8(0)),
                info(Nbd.INFO_BLOCK_SIZE, Bytes.of().u32(512).u32(4096))};
        for (Bytes bad : infos) {
            refused(fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(infoExport()).raw(bad).raw(ack(Nbd.OPT_GO)), "",
                    List.of());
        }
    }

    @Test
    public void inconsistentBlockSizes() throws IOException {
        int[][] sizes = {{0, 4096, 1 << 20}, {4096, 512, 1 << 20}, {512, 4096, 1024}};
        for (int[] s : sizes) {
            Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(infoExport())
                    .raw(info(Nbd.INFO_BLOCK_SIZE, Bytes.of().u32(s[0]).u32(s[1]).u32(s[2]))).raw(ack(Nbd.OPT_GO));
            refused(server, "", List.of());
        }
    }

    @Test
    public void aShortMetaContextReply() throws IOException {
        Bytes server = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.optionReply(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT, Bytes.of().u16(1)));
        refused(server, "", BASE);
    }

    @Test
    public void anExportSizeWithTheTopBitSet() throws IOException {
        refused(newstyle(0).u64(-1).u16(FLAGS).zeroes(124), "", BASE);
    }

    @Test
    public void serverLeavingMidNegotiation() throws IOException {
        byte[] whole = fixed().raw(ack(Nbd.OPT_STRUCTURED_REPLY)).raw(context(1, "base:allocation"))
                .raw(ack(Nbd.OPT_SET_META_CONTEXT)).raw(infoExport()).raw(ack(Nbd.OPT_GO)).array();
        for (int cut = 0; cut < whole.length; cut++) {
            try {
                negotiate(Bytes.of().raw(Arrays.copyOf(whole, cut)), "", BASE);
                fail("cut at " + cut);
            } catch (EOFException expected) {
                // ok
            }
        }
    }

    // Both sides together

    @Test(timeout = 20_000)
    public void clientAgainstServerHandshakeThroughPipes() throws Exception {
        java.nio.channels.Pipe toServer = java.nio.channels.Pipe.open();
        java.nio.channels.Pipe toClient = java.nio.channels.Pipe.open();
        ExportInfo export = new ExportInfo("disk", SIZE, FLAGS, 512, 4096, 1 << 20, "described");
        ServerOffer offer = new ServerOffer(export, true, BASE);
        ClientAgreement[] agreed = new ClientAgreement[1];
        Thread server = new Thread(() -> {
            try {
                agreed[0] = ServerHandshake.newstyle(new WireInput(toServer.source(), 64),
                        new WireOutput(toClient.sink(), 64), offer);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        server.start();
        UpstreamExport e = ClientHandshake.negotiate(new WireInput(toClient.source(), 64),
                new WireOutput(toServer.sink(), 64), "", BASE);
        server.join(10000);
        assertEquals(export.withName(""), e.export());
        assertTrue(e.structuredReplies());
        assertEquals(Map.of("base:allocation", 1), e.metaContexts());
        assertTrue(agreed[0].structuredReplies());
        assertEquals(Map.of(1, "base:allocation"), agreed[0].metaContexts());
        toServer.sink().close();
        toClient.sink().close();
    }
}
