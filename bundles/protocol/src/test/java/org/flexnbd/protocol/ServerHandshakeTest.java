package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.Test;

/** The server side of the handshake, driven by scripted clients over in-memory channels. */
public class ServerHandshakeTest {
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA
            | Nbd.FLAG_SEND_TRIM;
    private static final long SIZE = 0x40000200L;
    private static final ExportInfo EXPORT = new ExportInfo("disk", SIZE, FLAGS, 512, 4096, 1 << 20, "a test disk");
    private static final ServerOffer OFFER = new ServerOffer(EXPORT, true, List.of("base:allocation",
            "qemu:dirty-bitmap:b"));
    private static final int GREETING = 18;
    private static final int FIXED = Nbd.FLAG_C_FIXED_NEWSTYLE;
    private static final int FIXED_NO_ZEROES = Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES;

    /** What one server-side negotiation produced. */
    private static final class Run {
        ClientAgreement agreement;
        IOException failure;
        byte[] output;
        OptionReplies replies;
    }

    private static Run serve(ServerOffer offer, Bytes client) {
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        WireInput in = new WireInput(Channels.newChannel(new ByteArrayInputStream(client.array())), 128);
        WireOutput out = new WireOutput(Channels.newChannel(sent), 128);
        Run run = new Run();
        try {
            run.agreement = ServerHandshake.newstyle(in, out, offer);
        } catch (IOException e) {
            run.failure = e;
        }
        run.output = sent.toByteArray();
        assertArrayEquals("greeting", Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.IHAVEOPT)
                .u16(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES).array(), Arrays.copyOf(run.output, GREETING));
        run.replies = new OptionReplies(run.output, GREETING);
        return run;
    }

    private static Run serve(Bytes client) {
        return serve(OFFER, client);
    }

    private static Run agreed(Bytes client) {
        Run run = serve(client);
        if (run.failure != null) {
            throw new AssertionError("negotiation failed", run.failure);
        }
        assertNotNull("agreement", run.agreement);
        return run;
    }

    private static NbdException fatal(Run run) {
        assertNotNull("negotiation should have failed", run.failure);
        assertTrue(run.failure.toString(), run.failure instanceof NbdException);
        NbdException e = (NbdException) run.failure;
        assertTrue(e.isFatal());
        return e;
    }

    private static Bytes client(int flags) {
        return Bytes.of().u32(flags);
    }

    private static Bytes goData(String name, int... infos) {
        Bytes b = Bytes.of().string(name).u16(infos.length);
        for (int i : infos) {
            b.u16(i);
        }
        return b;
    }

    private static Bytes contextData(String name, String... queries) {
        Bytes b = Bytes.of().string(name).u32(queries.length);
        for (String q : queries) {
            b.string(q);
        }
        return b;
    }

    private static Bytes exportName(String name) {
        return Bytes.option(Nbd.OPT_EXPORT_NAME, Bytes.of().text(name));
    }

    private static Bytes infoExport(int option) {
        return Bytes.optionReply(option, Nbd.REP_INFO, Bytes.of().u16(Nbd.INFO_EXPORT).u64(SIZE).u16(FLAGS));
    }

    // EXPORT_NAME

    @Test
    public void exportNameWithNoZeroesIsSizeAndFlagsOnly() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(exportName("")));
        assertArrayEquals(Bytes.of().u64(SIZE).u16(FLAGS).array(), Wire.remaining(run.replies.rest()));
        assertEquals(GREETING + 10, run.output.length);
        assertFalse(run.agreement.oldstyle());
        assertFalse(run.agreement.structuredReplies());
        assertEquals(EXPORT, run.agreement.export());
        assertTrue(run.agreement.metaContexts().isEmpty());
    }

    @Test
    public void exportNameWithoutNoZeroesAddsTheReservedZeroes() {
        Run run = agreed(client(FIXED).raw(exportName("disk")));
        assertArrayEquals(Bytes.of().u64(SIZE).u16(FLAGS).zeroes(124).array(), Wire.remaining(run.replies.rest()));
        assertEquals(GREETING + 134, run.output.length);
    }

    @Test
    public void exportNameFromAPlainNewstyleClient() {
        Run run = agreed(client(0).raw(exportName("")));
        assertEquals(GREETING + 134, run.output.length);
    }

    @Test
    public void exportNameFromANewstyleClientWithNoZeroesButNotFixed() {
        Run run = agreed(client(Nbd.FLAG_C_NO_ZEROES).raw(exportName("")));
        assertEquals(GREETING + 10, run.output.length);
    }

    @Test
    public void exportNameForAnUnknownExportClosesTheConnection() {
        Run run = serve(client(FIXED).raw(exportName("nope")));
        fatal(run);
        assertEquals(GREETING, run.output.length);
    }

    @Test
    public void exportNameLongerThanAnNbdStringIsFatal() {
        fatal(serve(client(FIXED).raw(Bytes.option(Nbd.OPT_EXPORT_NAME, Bytes.of().fill(Nbd.MAX_STRING + 1, 'a')))));
    }

    @Test
    public void exportNameOverTheOptionLimitIsFatalWithoutReadingIt() {
        // Only the header is sent: the length alone decides.
        Bytes script = client(FIXED).u64(Nbd.IHAVEOPT).u32(Nbd.OPT_EXPORT_NAME).u32(Nbd.MAX_OPTION_LENGTH + 1L)
                .zeroes(Nbd.MAX_OPTION_LENGTH + 1);
        fatal(serve(script));
    }

    @Test
    public void exportNameAfterStructuredRepliesAndContexts() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.option(Nbd.OPT_SET_META_CONTEXT, contextData("", "base:allocation")))
                .raw(exportName("")));
        run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT);
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ACK);
        assertEquals(10, run.replies.remaining());
        assertTrue(run.agreement.structuredReplies());
        assertEquals(Map.of(1, "base:allocation"), run.agreement.metaContexts());
    }

    // GO and INFO

    @Test
    public void goWithoutInformationRequestsIsInfoExportThenAck() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        Bytes expected = Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.IHAVEOPT).u16(3).raw(infoExport(Nbd.OPT_GO))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_ACK));
        assertArrayEquals(expected.array(), run.output);
        assertEquals(EXPORT, run.agreement.export());
        assertFalse(run.agreement.oldstyle());
    }

    @Test
    public void goWithEveryInformationRequest() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_GO, goData("disk", Nbd.INFO_NAME,
                Nbd.INFO_DESCRIPTION, Nbd.INFO_BLOCK_SIZE, 999))));
        Bytes expected = Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.IHAVEOPT).u16(3).raw(infoExport(Nbd.OPT_GO))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_INFO, Bytes.of().u16(Nbd.INFO_NAME).text("disk")))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_INFO,
                        Bytes.of().u16(Nbd.INFO_DESCRIPTION).text("a test disk")))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_INFO,
                        Bytes.of().u16(Nbd.INFO_BLOCK_SIZE).u32(512).u32(4096).u32(1 << 20)))
                .raw(Bytes.optionReply(Nbd.OPT_GO, Nbd.REP_ACK));
        assertArrayEquals(expected.array(), run.output);
    }

    @Test
    public void eachInformationRequestOnItsOwn() {
        int[][] cases = {{Nbd.INFO_EXPORT}, {Nbd.INFO_NAME}, {Nbd.INFO_DESCRIPTION}, {Nbd.INFO_BLOCK_SIZE}};
        for (int[] info : cases) {
            Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_INFO, goData("", info)))
                    .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
            OptionReplies.Parsed first = run.replies.next(Nbd.OPT_INFO, Nbd.REP_INFO);
            assertEquals(Nbd.INFO_EXPORT, first.buffer().getShort());
            if (info[0] != Nbd.INFO_EXPORT) {
                OptionReplies.Parsed asked = run.replies.next(Nbd.OPT_INFO, Nbd.REP_INFO);
                assertEquals(info[0], asked.buffer().getShort());
            }
            run.replies.next(Nbd.OPT_INFO, Nbd.REP_ACK);
            run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
            run.replies.next(Nbd.OPT_GO, Nbd.REP_ACK);
            assertFalse(run.replies.hasMore());
        }
    }

    @Test
    public void infoDoesNotEndTheNegotiation() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_INFO, goData("disk", Nbd.INFO_NAME)))
                .raw(exportName("")));
        run.replies.next(Nbd.OPT_INFO, Nbd.REP_INFO);
        assertEquals("disk", new String(Arrays.copyOfRange(run.replies.next(Nbd.OPT_INFO, Nbd.REP_INFO).data(), 2,
                6), java.nio.charset.StandardCharsets.UTF_8));
        run.replies.next(Nbd.OPT_INFO, Nbd.REP_ACK);
        assertEquals(10, run.replies.remaining());
    }

    @Test
    public void theDefaultNameGetsTheExportsRealName() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_GO, goData("", Nbd.INFO_NAME))));
        run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
        OptionReplies.Parsed name = run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
        assertArrayEquals(Bytes.of().u16(Nbd.INFO_NAME).text("disk").array(), name.data());
    }

    @Test
    public void noDescriptionIsSentWhenThereIsNone() {
        ServerOffer plain = new ServerOffer(ExportInfo.of("", SIZE, FLAGS), false, List.of());
        Run run = serve(plain, client(FIXED).raw(Bytes.option(Nbd.OPT_GO, goData("", Nbd.INFO_DESCRIPTION))));
        assertNotNull(run.agreement);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_ACK);
        assertFalse(run.replies.hasMore());
    }

    @Test
    public void defaultBlockSizesAreNotAdvertised() {
        ServerOffer plain = new ServerOffer(ExportInfo.of("", SIZE, FLAGS), false, List.of());
        Run run = serve(plain, client(FIXED).raw(Bytes.option(Nbd.OPT_GO, goData("", Nbd.INFO_BLOCK_SIZE))));
        assertNotNull(run.agreement);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_ACK);
        assertFalse(run.replies.hasMore());
    }

    @Test
    public void goForAnUnknownExportIsErrUnknownAndNegotiationGoesOn() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_GO, goData("other")))
                .raw(Bytes.option(Nbd.OPT_INFO, goData("other"))).raw(Bytes.option(Nbd.OPT_GO, goData("disk"))));
        assertTrue(run.replies.next(Nbd.OPT_GO, Nbd.REP_ERR_UNKNOWN).text().contains("other"));
        run.replies.next(Nbd.OPT_INFO, Nbd.REP_ERR_UNKNOWN);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_ACK);
    }

    @Test
    public void malformedGoAndInfoDataIsErrInvalidAndNegotiationGoesOn() {
        Bytes[] malformed = {
            Bytes.of(), // nothing at all
            Bytes.of().u16(0), // too short for the name length
            Bytes.of().u32(10).text("disk").u16(0), // name longer than the data
            Bytes.of().string("disk"), // no request count
            Bytes.of().string("disk").u8(0), // half a request count
            Bytes.of().string("disk").u16(2).u16(Nbd.INFO_NAME), // fewer requests than counted
            Bytes.of().string("disk").u16(1).u16(Nbd.INFO_NAME).u16(Nbd.INFO_BLOCK_SIZE), // more than counted
            Bytes.of().string("disk").u16(0).u8(0), // a stray byte
            Bytes.of().u32(Nbd.MAX_STRING + 1).fill(Nbd.MAX_STRING + 1, 'x').u16(0), // name over 4096 bytes
        };
        for (int opt : new int[] {Nbd.OPT_INFO, Nbd.OPT_GO}) {
            for (Bytes data : malformed) {
                Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(opt, data)).raw(exportName("")));
                run.replies.next(opt, Nbd.REP_ERR_INVALID);
                assertEquals(10, run.replies.remaining());
            }
        }
    }

    @Test
    public void sendDfIsOnlyShownToAClientWithStructuredReplies() {
        ExportInfo df = ExportInfo.of("", SIZE, FLAGS | Nbd.FLAG_SEND_DF);
        ServerOffer offer = new ServerOffer(df, true, List.of());
        Run simple = serve(offer, client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_INFO, goData("")))
                .raw(exportName("")));
        assertArrayEquals(Bytes.of().u16(Nbd.INFO_EXPORT).u64(SIZE).u16(FLAGS).array(),
                simple.replies.next(Nbd.OPT_INFO, Nbd.REP_INFO).data());
        simple.replies.next(Nbd.OPT_INFO, Nbd.REP_ACK);
        assertArrayEquals(Bytes.of().u64(SIZE).u16(FLAGS).array(), Wire.remaining(simple.replies.rest()));
        assertEquals(FLAGS, simple.agreement.export().transmissionFlags());

        Run structured = serve(offer, client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        structured.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
        assertArrayEquals(Bytes.of().u16(Nbd.INFO_EXPORT).u64(SIZE).u16(FLAGS | Nbd.FLAG_SEND_DF).array(),
                structured.replies.next(Nbd.OPT_GO, Nbd.REP_INFO).data());
        assertEquals(FLAGS | Nbd.FLAG_SEND_DF, structured.agreement.export().transmissionFlags());

        Run exportName = serve(offer, client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(exportName("")));
        exportName.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
        assertArrayEquals(Bytes.of().u64(SIZE).u16(FLAGS | Nbd.FLAG_SEND_DF).array(),
                Wire.remaining(exportName.replies.rest()));
    }

    // LIST, ABORT, STRUCTURED_REPLY

    @Test
    public void listShowsTheExportThenAck() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_LIST)).raw(exportName("")));
        Bytes expected = Bytes.optionReply(Nbd.OPT_LIST, Nbd.REP_SERVER, Bytes.of().string("disk"))
                .raw(Bytes.optionReply(Nbd.OPT_LIST, Nbd.REP_ACK)).u64(SIZE).u16(FLAGS);
        assertArrayEquals(expected.array(), Wire.remaining(run.replies.rest()));
    }

    @Test
    public void listWithDataIsErrInvalid() {
        Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_LIST, Bytes.of().u32(0)))
                .raw(exportName("")));
        run.replies.next(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID);
        assertEquals(10, run.replies.remaining());
    }

    @Test
    public void abortIsAcknowledgedAndEndsWithoutAnAgreement() {
        Run run = serve(client(FIXED).raw(Bytes.option(Nbd.OPT_ABORT)));
        assertNull(run.failure);
        assertNull(run.agreement);
        assertArrayEquals(Bytes.optionReply(Nbd.OPT_ABORT, Nbd.REP_ACK).array(), Wire.remaining(run.replies.rest()));
    }

    @Test
    public void abortAfterOtherOptions() {
        Run run = serve(client(FIXED).raw(Bytes.option(Nbd.OPT_LIST)).raw(Bytes.option(Nbd.OPT_ABORT)));
        assertNull(run.failure);
        assertNull(run.agreement);
        run.replies.next(Nbd.OPT_LIST, Nbd.REP_SERVER);
        run.replies.next(Nbd.OPT_LIST, Nbd.REP_ACK);
        run.replies.next(Nbd.OPT_ABORT, Nbd.REP_ACK);
    }

    @Test
    public void structuredReplyIsAcknowledged() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        assertArrayEquals(Bytes.optionReply(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK).array(),
                Arrays.copyOfRange(run.output, GREETING, GREETING + 20));
        assertTrue(run.agreement.structuredReplies());
    }

    @Test
    public void structuredReplyWithDataIsErrInvalid() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY, Bytes.of().u8(0)))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_INVALID);
        assertFalse(run.agreement.structuredReplies());
    }

    @Test
    public void structuredReplyNotOfferedIsErrUnsup() {
        ServerOffer simpleOnly = new ServerOffer(EXPORT, false, List.of());
        Run run = serve(simpleOnly, client(FIXED).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_UNSUP);
        assertFalse(run.agreement.structuredReplies());
    }

    // Meta contexts

    @Test
    public void listMetaContextWithoutQueriesListsEveryContextWithIdZero() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_LIST_META_CONTEXT, contextData("")))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        Bytes expected = Bytes.optionReply(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_META_CONTEXT,
                Bytes.of().u32(0).text("base:allocation"))
                .raw(Bytes.optionReply(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_META_CONTEXT,
                        Bytes.of().u32(0).text("qemu:dirty-bitmap:b")))
                .raw(Bytes.optionReply(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_ACK));
        assertArrayEquals(expected.array(), Arrays.copyOfRange(run.output, GREETING, GREETING + expected.size()));
    }

    @Test
    public void listMetaContextWithANamespaceQuery() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_LIST_META_CONTEXT, contextData("disk", "base:")))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        OptionReplies.Parsed p = run.replies.next(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_META_CONTEXT);
        assertArrayEquals(Bytes.of().u32(0).text("base:allocation").array(), p.data());
        run.replies.next(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_ACK);
        assertTrue(run.agreement.metaContexts().isEmpty());
    }

    @Test
    public void listMetaContextWithAQueryThatMatchesNothingIsJustAck() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_LIST_META_CONTEXT, contextData("", "x-none:thing")))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        run.replies.next(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_ACK);
    }

    @Test
    public void setMetaContextBeforeStructuredRepliesIsErrInvalid() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_SET_META_CONTEXT,
                contextData("", "base:allocation"))).raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ERR_INVALID);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_INFO);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_ACK);
        assertTrue(run.agreement.metaContexts().isEmpty());
    }

    @Test
    public void setMetaContextSelectsWithTheOffersIds() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.option(Nbd.OPT_SET_META_CONTEXT,
                        contextData("disk", "qemu:dirty-bitmap:b", "base:allocation", "x-unknown:y")))
                .raw(Bytes.option(Nbd.OPT_GO, goData("disk"))));
        run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
        assertArrayEquals(Bytes.of().u32(1).text("base:allocation").array(),
                run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT).data());
        assertArrayEquals(Bytes.of().u32(2).text("qemu:dirty-bitmap:b").array(),
                run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT).data());
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ACK);
        assertEquals(Map.of(1, "base:allocation", 2, "qemu:dirty-bitmap:b"), run.agreement.metaContexts());
    }

    @Test
    public void aLaterSetReplacesTheSelection() {
        Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                .raw(Bytes.option(Nbd.OPT_SET_META_CONTEXT, contextData("", "base:allocation")))
                .raw(Bytes.option(Nbd.OPT_SET_META_CONTEXT, contextData("")))
                .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
        run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_META_CONTEXT);
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ACK);
        run.replies.next(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ACK);
        assertTrue(run.agreement.metaContexts().isEmpty());
    }

    @Test
    public void metaContextForAnUnknownExportIsErrUnknown() {
        for (int opt : new int[] {Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT}) {
            Run run = agreed(client(FIXED).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                    .raw(Bytes.option(opt, contextData("other", "base:allocation")))
                    .raw(Bytes.option(Nbd.OPT_GO, goData(""))));
            run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
            run.replies.next(opt, Nbd.REP_ERR_UNKNOWN);
            assertTrue(run.agreement.metaContexts().isEmpty());
        }
    }

    @Test
    public void malformedMetaContextDataIsErrInvalidAndNegotiationGoesOn() {
        Bytes[] malformed = {
            Bytes.of(),
            Bytes.of().string(""), // no query count
            Bytes.of().string("").u16(0), // half a query count
            Bytes.of().string("").u32(2).string("base:allocation"), // fewer queries than counted
            Bytes.of().string("").u32(1).string("base:allocation").u8(0), // a stray byte
            Bytes.of().string("").u32(1).u32(100).text("base:allocation"), // query longer than the data
            Bytes.of().u32(50).text("disk"), // name longer than the data
            Bytes.of().string("").u32(0xffffffffL), // an absurd count
        };
        for (int opt : new int[] {Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT}) {
            for (Bytes data : malformed) {
                Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_STRUCTURED_REPLY))
                        .raw(Bytes.option(opt, data)).raw(exportName("")));
                run.replies.next(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK);
                run.replies.next(opt, Nbd.REP_ERR_INVALID);
                assertEquals(10, run.replies.remaining());
            }
        }
    }

    // Unsupported and oversized options

    @Test
    public void startTlsAndUnknownOptionsAreErrUnsup() {
        int[] unsupported = {Nbd.OPT_STARTTLS, Nbd.OPT_PEEK_EXPORT, Nbd.OPT_EXTENDED_HEADERS, 12, 1000, 0,
                0xffffffff};
        for (int opt : unsupported) {
            Run run = agreed(client(FIXED_NO_ZEROES).raw(Bytes.option(opt, Bytes.of().u32(7))).raw(exportName("")));
            OptionReplies.Parsed p = run.replies.next(opt, Nbd.REP_ERR_UNSUP);
            assertTrue(p.text().length() > 0);
            assertEquals(10, run.replies.remaining());
        }
    }

    @Test
    public void anOptionOverTheLimitIsErrTooBigAndItsDataSkipped() {
        Bytes script = client(FIXED_NO_ZEROES).raw(Bytes.option(Nbd.OPT_GO,
                Bytes.of().string("").u16(0).zeroes(Nbd.MAX_OPTION_LENGTH))).raw(exportName(""));
        Run run = agreed(script);
        run.replies.next(Nbd.OPT_GO, Nbd.REP_ERR_TOO_BIG);
        assertEquals(10, run.replies.remaining());
    }

    @Test
    public void anOptionOfExactlyTheLimitIsRead() {
        Bytes script = client(FIXED_NO_ZEROES).raw(Bytes.option(1234, Bytes.of().zeroes(Nbd.MAX_OPTION_LENGTH)))
                .raw(exportName(""));
        Run run = agreed(script);
        run.replies.next(1234, Nbd.REP_ERR_UNSUP);
    }

    // Violations: fatal

    @Test
    public void badOptionMagic() {
        Bytes script = client(FIXED).u64(Nbd.REPLY_MAGIC).u32(Nbd.OPT_LIST).u32(0);
        fatal(serve(script));
        fatal(serve(client(FIXED).u64(0).u32(Nbd.OPT_EXPORT_NAME).u32(0)));
    }

    @Test
    public void unknownClientFlags() {
        for (int flags : new int[] {4, 0x80000000, 0xffffffff, 3 | 8}) {
            Run run = serve(client(flags).raw(exportName("")));
            fatal(run);
            assertEquals(GREETING, run.output.length);
        }
    }

    @Test
    public void anOptionFromAClientThatIsNotFixedNewstyle() {
        for (int opt : new int[] {Nbd.OPT_LIST, Nbd.OPT_GO, Nbd.OPT_ABORT, Nbd.OPT_STRUCTURED_REPLY, 99}) {
            Run run = serve(client(0).raw(Bytes.option(opt)).raw(exportName("")));
            fatal(run);
            assertEquals("no option reply to a non-fixed client", GREETING, run.output.length);
        }
    }

    @Test
    public void theClientLeavingMidNegotiationIsAnEof() {
        byte[] whole = client(FIXED).raw(Bytes.option(Nbd.OPT_GO, goData("disk", Nbd.INFO_NAME))).array();
        for (int cut = 0; cut < whole.length; cut++) {
            Run run = serve(Bytes.of().raw(Arrays.copyOf(whole, cut)));
            assertTrue("cut at " + cut + ": " + run.failure, run.failure instanceof EOFException);
        }
    }

    @Test(timeout = 20_000)
    public void theServerSpeaksOnlyAfterEachOption() throws IOException {
        // A real pipe: the client waits for each reply before sending the next option, as the spec requires.
        java.nio.channels.Pipe toServer = java.nio.channels.Pipe.open();
        java.nio.channels.Pipe toClient = java.nio.channels.Pipe.open();
        ClientAgreement[] agreed = new ClientAgreement[1];
        Thread server = new Thread(() -> {
            try {
                agreed[0] = ServerHandshake.newstyle(new WireInput(toServer.source(), 64),
                        new WireOutput(toClient.sink(), 64), OFFER);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        server.start();
        WireInput in = new WireInput(toClient.source(), 64);
        WireOutput out = new WireOutput(toServer.sink(), 64);
        assertEquals(Nbd.NBDMAGIC, in.readLong());
        assertEquals(Nbd.IHAVEOPT, in.readLong());
        assertEquals(3, in.readUnsignedShort());
        out.writeInt(FIXED_NO_ZEROES);
        OptionCodec.writeOption(out, Nbd.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0));
        out.flush();
        OptionCodec.OptionReply r = OptionCodec.readReply(in);
        assertEquals(Nbd.REP_ACK, r.type());
        OptionCodec.writeOption(out, Nbd.OPT_GO, goData("").buffer());
        out.flush();
        assertEquals(Nbd.REP_INFO, OptionCodec.readReply(in).type());
        assertEquals(Nbd.REP_ACK, OptionCodec.readReply(in).type());
        try {
            server.join(10000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertFalse(server.isAlive());
        assertTrue(agreed[0].structuredReplies());
        toServer.sink().close();
        toClient.source().close();
    }

    // Oldstyle

    @Test
    public void oldstyleHelloIsExactly152Bytes() throws IOException {
        ExportInfo e = ExportInfo.of("", 0x123456789aL, Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_READ_ONLY);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        ClientAgreement a = ServerHandshake.oldstyle(new WireOutput(Channels.newChannel(sent), 64), e);
        byte[] wire = sent.toByteArray();
        assertEquals(Nbd.OLDSTYLE_HELLO_LENGTH, wire.length);
        assertArrayEquals(Bytes.of().u64(Nbd.NBDMAGIC).u64(Nbd.OLDSTYLE_MAGIC).u64(0x123456789aL).u32(3)
                .zeroes(124).array(), wire);
        byte[] start = {'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C', 0, 0, 0x42, 0x02, (byte) 0x81, (byte) 0x86, 0x12,
            0x53};
        assertArrayEquals(start, Arrays.copyOf(wire, 16));
        assertTrue(a.oldstyle());
        assertFalse(a.structuredReplies());
        assertEquals(e, a.export());
    }

    @Test
    public void oldstyleHelloWrittenByOldstyleHello() throws IOException {
        byte[] wire = Wire.encode(out -> OldstyleHello.write(out, ExportInfo.of("", 1 << 20, 1)));
        assertEquals(152, wire.length);
    }
}
