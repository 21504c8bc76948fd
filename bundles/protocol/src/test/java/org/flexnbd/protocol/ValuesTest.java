package org.flexnbd.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.Test;

/** Invariants of Request, Reply, Chunk, Chunks, ExportInfo, ServerOffer, NbdException and UpstreamExport. */
public class ValuesTest {

    // Request

    @Test
    public void requestFieldsAreBounded() {
        assertIllegal(() -> Request.of(Nbd.CMD_READ, 0x10000, 1, 0, 0));
        assertIllegal(() -> Request.of(0x10000, 0, 1, 0, 0));
        assertIllegal(() -> Request.of(Nbd.CMD_READ, -1, 1, 0, 0));
        assertIllegal(() -> Request.of(Nbd.CMD_READ, 0, 1, 0, -1));
        assertIllegal(() -> Request.of(Nbd.CMD_READ, 0, 1, 0, 0x100000000L));
        assertEquals(0xffffffffL, Request.of(Nbd.CMD_TRIM, 0xffff, 1, -1, 0xffffffffL).length());
    }

    @Test
    public void requestPayloadIsReadOnlyAndEachViewIndependent() {
        ByteBuffer data = ByteBuffer.wrap(new byte[] {1, 2, 3, 4});
        Request r = Request.write(0, 1, 0, data);
        assertEquals(4, r.length());
        assertEquals(4, r.payloadLength());
        ByteBuffer a = r.payload();
        assertTrue(a.isReadOnly());
        a.getInt();
        assertEquals(4, r.payload().remaining());
        assertEquals(4, r.payloadLength());
        try {
            a.put(0, (byte) 9);
            fail();
        } catch (ReadOnlyBufferException expected) {
            // ok
        }
    }

    @Test
    public void requestWithoutPayloadHasAnEmptyOne() {
        Request r = new Request(0, Nbd.CMD_FLUSH, 1, 0, 0, null);
        assertEquals(0, r.payloadLength());
        assertEquals(0, r.payload().remaining());
        assertEquals(0, Request.of(Nbd.CMD_READ, 0, 1, 0, 512).payloadLength());
    }

    @Test
    public void requestWriteTakesTheRemainingBytes() {
        ByteBuffer data = ByteBuffer.wrap(new byte[10]);
        data.position(3);
        Request r = Request.write(Nbd.CMD_FLAG_FUA, 5, 100, data);
        assertEquals(7, r.length());
        assertEquals(Nbd.CMD_WRITE, r.type());
        assertTrue(r.hasFlag(Nbd.CMD_FLAG_FUA));
        assertFalse(r.hasFlag(Nbd.CMD_FLAG_DF));
        assertEquals(3, data.position());
    }

    @Test
    public void requestToStringNamesTheCommand() {
        assertTrue(Request.of(Nbd.CMD_BLOCK_STATUS, 0, 0xabL, 0, 1).toString().startsWith("BLOCK_STATUS("));
        assertTrue(Request.of(Nbd.CMD_BLOCK_STATUS, 0, 0xabL, 0, 1).toString().contains("00000000000000ab"));
        assertEquals("CMD_77", Nbd.commandName(77));
        for (int t = 0; t <= Nbd.CMD_RESIZE; t++) {
            assertFalse(Nbd.commandName(t).startsWith("CMD_"));
        }
    }

    // Chunk and Chunks

    @Test
    public void chunkFieldsAreBounded() {
        assertIllegal(() -> new Chunk(0x10000, 0, 1, ByteBuffer.allocate(0)));
        assertIllegal(() -> new Chunk(0, 0x10000, 1, ByteBuffer.allocate(0)));
    }

    @Test
    public void chunkAccessors() {
        Chunk data = Chunks.offsetData(7, 0, 0, ByteBuffer.allocate(3));
        assertFalse(data.isDone());
        assertFalse(data.isError());
        assertEquals(0, data.error());
        assertEquals(11, data.length());
        Chunk done = data.withFlags(Nbd.REPLY_FLAG_DONE);
        assertTrue(done.isDone());
        assertFalse(data.isDone());
        assertEquals(5, data.withPayload(ByteBuffer.allocate(5)).length());
        assertEquals(11, data.length());

        Chunk error = Chunks.error(7, 1, Nbd.EOVERFLOW, "x");
        assertTrue(error.isError());
        assertEquals(Nbd.EOVERFLOW, error.error());
        assertEquals(7, error.cookie());
    }

    @Test
    public void chunkPayloadIsReadOnlyAndIndependent() {
        Chunk c = Chunks.offsetHole(1, 0, 8, 4);
        ByteBuffer p = c.payload();
        assertTrue(p.isReadOnly());
        p.getLong();
        assertEquals(12, c.payload().remaining());
    }

    @Test
    public void blockStatusBuildersAndContextIds() {
        Chunk c = Chunks.blockStatus(1, 1, 3, 512, 1, 1024, 0);
        assertEquals(3, Chunks.contextId(c));
        Chunk moved = Chunks.withContextId(c, 9);
        assertEquals(9, Chunks.contextId(moved));
        assertEquals(3, Chunks.contextId(c));
        ByteBuffer p = moved.payload();
        p.getInt();
        assertEquals(512, p.getInt());
        assertEquals(1, p.getInt());
        assertEquals(1024, p.getInt());
        assertEquals(0, p.getInt());
        assertEquals(c.flags(), moved.flags());
        assertEquals(c.type(), moved.type());
        assertIllegal(() -> Chunks.blockStatus(1, 1, 3, 512));
    }

    @Test
    public void noneChunkIsDoneAndEmpty() {
        Chunk none = Chunks.none(5);
        assertTrue(none.isDone());
        assertEquals(Nbd.REPLY_TYPE_NONE, none.type());
        assertEquals(0, none.length());
    }

    // Reply

    @Test
    public void structuredReplyEndsWithADoneChunk() {
        assertIllegal(() -> Reply.structured(1, List.of()));
        assertIllegal(() -> Reply.structured(1, List.of(Chunks.offsetHole(1, 0, 0, 1))));
        assertIllegal(() -> Reply.structured(1, List.of(Chunks.none(1), Chunks.offsetHole(1, 0, 0, 1))));
        assertTrue(Reply.structured(1, List.of(Chunks.offsetHole(1, 1, 0, 1))).isStructured());
    }

    @Test
    public void structuredReplyErrorIsTheFirstErrorChunks() {
        Reply ok = Reply.structured(1, List.of(Chunks.offsetHole(1, 0, 0, 1), Chunks.none(1)));
        assertEquals(0, ok.error());
        Reply bad = Reply.structured(1, List.of(Chunks.offsetHole(1, 0, 0, 1), Chunks.error(1, 0, Nbd.ENOSPC, ""),
                Chunks.error(1, 1, Nbd.EIO, "")));
        assertEquals(Nbd.ENOSPC, bad.error());
        // An error chunk too short to hold an errno still makes the reply fail.
        Chunk stub = new Chunk(1, Nbd.REPLY_TYPE_ERROR, 1, ByteBuffer.allocate(2));
        assertEquals(Nbd.EIO, Reply.structured(1, List.of(stub)).error());
    }

    @Test
    public void structuredReplyKeepsItsOwnCopyOfTheChunks() {
        List<Chunk> chunks = new ArrayList<>(List.of(Chunks.none(1)));
        Reply r = Reply.structured(1, chunks);
        chunks.add(Chunks.none(1));
        assertEquals(1, r.chunks().size());
        try {
            r.chunks().add(Chunks.none(1));
            fail();
        } catch (UnsupportedOperationException expected) {
            // ok
        }
    }

    @Test
    public void replyAccounting() {
        Reply simple = Reply.simple(1, 0, ByteBuffer.allocate(100));
        assertEquals(100, simple.payloadBytes());
        assertFalse(simple.isStructured());
        assertTrue(simple.chunks().isEmpty());
        Reply s = Reply.structured(1, List.of(Chunks.offsetData(1, 0, 0, ByteBuffer.allocate(100)),
                Chunks.none(1)));
        assertEquals(108, s.payloadBytes());
        assertEquals(0, s.data().remaining());
        assertEquals(0, Reply.simple(1, Nbd.EIO, null).data().remaining());
    }

    @Test
    public void replyDataIsIndependentPerCall() {
        Reply simple = Reply.simple(1, 0, ByteBuffer.allocate(8));
        simple.data().getLong();
        assertEquals(8, simple.data().remaining());
        assertTrue(simple.data().isReadOnly());
    }

    // ExportInfo, ServerOffer, NbdException, ReplyMessage

    @Test
    public void exportInfoValidation() {
        assertIllegal(() -> ExportInfo.of("", -1, 1));
        assertIllegal(() -> ExportInfo.of("", 0, 0x10000));
        ExportInfo e = ExportInfo.of("a", 10, Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH);
        assertEquals(1, e.minBlock());
        assertEquals(4096, e.preferredBlock());
        assertEquals(Nbd.MAX_PAYLOAD, e.maxBlock());
        assertEquals("", e.description());
        assertTrue(e.hasFlag(Nbd.FLAG_SEND_FLUSH));
        assertFalse(e.hasFlag(Nbd.FLAG_READ_ONLY));
        assertEquals("b", e.withName("b").name());
        assertEquals(1, e.withTransmissionFlags(1).transmissionFlags());
        assertEquals(10, e.withName("b").size());
    }

    @Test
    public void serverOfferServesItsNameAndTheDefault() {
        ServerOffer offer = new ServerOffer(ExportInfo.of("disk", 1, 1), true,
                List.of("base:allocation", "qemu:dirty-bitmap:x"));
        assertTrue(offer.serves(""));
        assertTrue(offer.serves("disk"));
        assertFalse(offer.serves("disk2"));
        assertEquals(1, offer.contextId("base:allocation"));
        assertEquals(2, offer.contextId("qemu:dirty-bitmap:x"));
    }

    @Test
    public void nbdExceptionKinds() {
        NbdException f = NbdException.fatal("x");
        assertTrue(f.isFatal());
        assertEquals(Nbd.EINVAL, f.error());
        NbdException r = NbdException.reply("y", Nbd.EOVERFLOW, 99);
        assertFalse(r.isFatal());
        assertEquals(Nbd.EOVERFLOW, r.error());
        assertEquals(99, r.cookie());
        assertEquals("y", r.getMessage());
    }

    @Test
    public void replyMessageCookie() {
        assertEquals(4, new ReplyMessage(Reply.simple(4, 0, null), null).cookie());
        assertEquals(5, new ReplyMessage(null, Chunks.none(5)).cookie());
    }

    // UpstreamExport.differenceFrom

    private static UpstreamExport upstream(ExportInfo e, boolean structured, Map<String, Integer> contexts) {
        return new UpstreamExport(e, false, structured, contexts);
    }

    private static final ExportInfo DISK = new ExportInfo("", 1 << 30, 0x4d, 512, 4096, 1 << 20, "the disk");

    @Test
    public void theSameExportHasNoDifference() {
        UpstreamExport a = upstream(DISK, true, Map.of("base:allocation", 1));
        assertNull(a.differenceFrom(upstream(DISK, true, Map.of("base:allocation", 1))));
    }

    @Test
    public void contextIdsMayChangeAndDescriptionsDoNotMatter() {
        UpstreamExport a = upstream(DISK, true, Map.of("base:allocation", 1));
        ExportInfo other = new ExportInfo("", DISK.size(), DISK.transmissionFlags(), 512, 4096, 1 << 20, "renamed");
        assertNull(a.differenceFrom(upstream(other, true, Map.of("base:allocation", 7))));
    }

    @Test
    public void gainingFeaturesIsNoDifference() {
        UpstreamExport a = upstream(DISK, false, Map.of());
        assertNull(a.differenceFrom(upstream(DISK, true, Map.of("base:allocation", 1))));
    }

    @Test
    public void sizeChange() {
        UpstreamExport a = upstream(DISK, true, Map.of());
        String d = a.differenceFrom(upstream(new ExportInfo("", DISK.size() + 512, 0x4d, 512, 4096, 1 << 20, ""),
                true, Map.of()));
        assertNotNull(d);
        assertTrue(d, d.contains("size"));
    }

    @Test
    public void flagsChange() {
        UpstreamExport a = upstream(DISK, true, Map.of());
        String d = a.differenceFrom(upstream(DISK.withTransmissionFlags(0x4f), true, Map.of()));
        assertNotNull(d);
        assertTrue(d, d.contains("flags"));
    }

    @Test
    public void blockSizesChange() {
        UpstreamExport a = upstream(DISK, true, Map.of());
        int[][] variants = {{1, 4096, 1 << 20}, {512, 512, 1 << 20}, {512, 4096, 1 << 21}};
        for (int[] v : variants) {
            String d = a.differenceFrom(upstream(new ExportInfo("", DISK.size(), 0x4d, v[0], v[1], v[2], ""), true,
                    Map.of()));
            assertNotNull(d);
            assertTrue(d, d.contains("block sizes"));
        }
    }

    @Test
    public void losingStructuredRepliesOrAContext() {
        UpstreamExport a = upstream(DISK, true, Map.of("base:allocation", 1));
        assertTrue(a.differenceFrom(upstream(DISK, false, Map.of())).contains("structured"));
        assertTrue(a.differenceFrom(upstream(DISK, true, Map.of())).contains("meta contexts"));
        assertTrue(a.differenceFrom(upstream(DISK, true, Map.of("qemu:x", 1))).contains("meta contexts"));
    }

    private static void assertIllegal(Runnable r) {
        try {
            r.run();
            fail("accepted");
        } catch (IllegalArgumentException expected) {
            // ok
        }
    }
}
