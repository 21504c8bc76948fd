package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.ProtocolViolation;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;
import org.junit.Test;

import io.netty.buffer.ByteBuf;

/** Replies as an upstream connection's reader assembles them: chunks until DONE, checked as they come. */
public class ReplyAssemblerTest {
    private final ReplyAssembler assembler = new ReplyAssembler(new ReplyValidator(true, List.of(2), 1 << 20),
            Map.of(2, 7));
    private final Request read = Request.of(Nbd.CMD_READ, 0, 5, 0, 8192);

    @Test
    public void chunksMakeOneReplyOnlyOnceTheLastSaysDone() throws Exception {
        assertNull(assembler.add(chunk(Chunks.offsetData(5, 0, 0, ByteBuffer.allocate(4096))), read));
        Reply whole = assembler.add(chunk(Chunks.offsetData(5, Nbd.REPLY_FLAG_DONE, 4096, ByteBuffer.allocate(4096))),
                read);
        assertEquals(2, whole.chunks().size());
        assertEquals(5, whole.cookie());
    }

    @Test
    public void aSimpleReplyIsCompleteAsItCame() throws Exception {
        Request write = Request.of(Nbd.CMD_FLUSH, 0, 6, 0, 0);
        Reply simple = Reply.simple(6, 0, null);
        assertSame(simple, assembler.add(new ReplyMessage(simple, null), write));
    }

    @Test
    public void aChunkOutsideItsRequestIsAViolationAndItsMemoryGoesBack() throws Exception {
        ByteBuf memory = PayloadPool.shared().directBuffer(4096);
        memory.writerIndex(4096);
        Chunk outside = new Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 5,
                offsetDataPayload(8192, memory), memory);
        try {
            assembler.add(chunk(outside), read);
            fail("a data chunk past the request's end must be refused");
        } catch (ProtocolViolation expected) {
            assertEquals(0, memory.refCnt());
        }
    }

    @Test
    public void unfinishedRepliesAreGivenBackWhenTheConnectionEnds() throws Exception {
        ByteBuf memory = PayloadPool.shared().directBuffer(4104);
        memory.writerIndex(4104);
        Chunk first = new Chunk(0, Nbd.REPLY_TYPE_OFFSET_DATA, 5, offsetDataPayload(0, memory), memory);
        assertNull(assembler.add(chunk(first), read));
        assertEquals(1, memory.refCnt());
        assembler.discard();
        assertEquals(0, memory.refCnt());
    }

    @Test
    public void blockStatusCarriesTheIdsTheClientsKnow() throws Exception {
        Request status = Request.of(Nbd.CMD_BLOCK_STATUS, 0, 8, 0, 4096);
        Reply whole = assembler.add(chunk(Chunks.blockStatus(8, Nbd.REPLY_FLAG_DONE, 2, 4096, 0)), status);
        assertEquals(7, Chunks.contextId(whole.chunks().get(0)));
    }

    private static ReplyMessage chunk(Chunk c) {
        return new ReplyMessage(null, c);
    }

    /** An OFFSET_DATA payload: the offset, then the data, in {@code memory}. */
    private static ByteBuffer offsetDataPayload(long offset, ByteBuf memory) {
        ByteBuffer b = memory.nioBuffer(0, memory.writerIndex());
        b.putLong(0, offset);
        return b;
    }
}
