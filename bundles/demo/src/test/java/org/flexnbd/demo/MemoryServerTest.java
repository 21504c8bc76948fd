package org.flexnbd.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Chunks;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.junit.After;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.rules.Timeout;

/** The demo server through the protocol bundle's client-side codecs, on both kinds of socket. */
public class MemoryServerTest {
    private static final long SIZE = 16L << 20;
    private static final int PAGE = MemoryExport.PAGE_SIZE;
    private static final List<String> BASE = List.of(MemoryServer.BASE_ALLOCATION);

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Rule
    public Timeout timeout = Timeout.seconds(120);

    private MemoryServer server;

    @After
    public void stop() {
        if (server != null) {
            server.close();
        }
    }

    private MemoryServer unix() throws IOException {
        server = MemoryServer.onUnixSocket(tmp.getRoot().toPath().resolve("demo.sock"), new MemoryExport(SIZE));
        return server;
    }

    private MemoryServer tcp() throws IOException {
        server = MemoryServer.onLoopback(0, new MemoryExport(SIZE));
        return server;
    }

    @Test
    public void handshakeOnAUnixSocket() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            assertEquals(SIZE, c.export.export().size());
            assertEquals(MemoryServer.FLAGS, c.export.export().transmissionFlags());
            assertTrue(c.export.structuredReplies());
            assertEquals(1, c.export.metaContexts().get("base:allocation").intValue());
            assertFalse(c.export.oldstyle());
            assertTrue(Files.exists(Path.of(server.address())));
            assertEquals(-1, server.port());
        }
    }

    @Test
    public void handshakeOnLoopback() throws IOException {
        try (TestClient c = TestClient.connect(tcp(), BASE)) {
            assertTrue(server.port() > 0);
            assertEquals("127.0.0.1:" + server.port(), server.address());
            assertEquals(SIZE, c.export.export().size());
        }
    }

    @Test
    public void writeThenReadWithStructuredReplies() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            byte[] data = MemoryExportTest.pattern(3 * PAGE + 1000, 9);
            assertEquals(0, c.write(PAGE + 17, data, Nbd.CMD_FLAG_FUA));
            assertArrayEquals(data, c.read(PAGE + 17, data.length));
            assertEquals(0, server.export().allocatedBytes() % PAGE);
        }
    }

    @Test
    public void structuredReadsSendHolesForUnwrittenPages() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            c.write(2L * PAGE, new byte[] {1, 2, 3}, 0);
            Reply reply = c.call(Request.of(Nbd.CMD_READ, 0, c.cookie(), 0, 4 * PAGE));
            assertTrue(reply.isStructured());
            List<Chunk> chunks = reply.chunks();
            assertEquals(3, chunks.size());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_HOLE, chunks.get(0).type());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, chunks.get(1).type());
            assertEquals(PAGE + 8, chunks.get(1).length());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_HOLE, chunks.get(2).type());
            assertTrue(chunks.get(2).isDone());
            assertFalse(chunks.get(0).isDone());
        }
    }

    @Test
    public void dontFragmentGivesOneDataChunk() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            c.write(PAGE, new byte[] {7}, 0);
            Reply reply = c.call(Request.of(Nbd.CMD_READ, Nbd.CMD_FLAG_DF, c.cookie(), 0, 3 * PAGE));
            assertEquals(1, reply.chunks().size());
            Chunk only = reply.chunks().get(0);
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, only.type());
            assertTrue(only.isDone());
            ByteBuffer p = only.payload();
            assertEquals(0, p.getLong());
            assertEquals(7, p.get(8 + PAGE));
        }
    }

    @Test
    public void anEmptyStructuredReadIsOneNoneChunk() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            Reply reply = c.call(Request.of(Nbd.CMD_READ, 0, c.cookie(), 100, 0));
            assertEquals(1, reply.chunks().size());
            assertEquals(Nbd.REPLY_TYPE_NONE, reply.chunks().get(0).type());
        }
    }

    @Test
    public void simpleRepliesForAClientThatDidNotAskForStructured() throws IOException {
        unix();
        try (TestClient c = TestClient.raw(server)) {
            // A plain newstyle client: no options, straight to EXPORT_NAME.
            assertEquals(Nbd.NBDMAGIC, c.in.readLong());
            assertEquals(Nbd.IHAVEOPT, c.in.readLong());
            c.in.readUnsignedShort();
            c.out.writeInt(Nbd.FLAG_C_NO_ZEROES).writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_EXPORT_NAME).writeInt(0);
            c.out.flush();
            assertEquals(SIZE, c.in.readLong());
            int flags = c.in.readUnsignedShort();
            assertEquals("no DF without structured replies", MemoryServer.FLAGS & ~Nbd.FLAG_SEND_DF, flags);
            byte[] data = MemoryExportTest.pattern(5000, 2);
            assertEquals(0, c.write(100, data, 0));
            Reply read = c.call(Request.of(Nbd.CMD_READ, 0, c.cookie(), 100, 5000));
            assertFalse(read.isStructured());
            byte[] got = new byte[5000];
            read.data().get(got);
            assertArrayEquals(data, got);
            Reply beyond = c.call(Request.of(Nbd.CMD_READ, 0, c.cookie(), SIZE - 1, 2));
            assertFalse(beyond.isStructured());
            assertEquals(Nbd.EINVAL, beyond.error());
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_BLOCK_STATUS, 0, 0, 4096));
            assertArrayEquals(data, c.read(100, 5000));
        }
    }

    @Test
    public void flushTrimCacheAndWriteZeroes() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            byte[] ones = new byte[4 * PAGE];
            java.util.Arrays.fill(ones, (byte) 1);
            c.write(0, ones, 0);
            assertEquals(0, c.command(Nbd.CMD_FLUSH, 0, 0, 0));
            assertEquals(0, c.command(Nbd.CMD_CACHE, 0, 0, PAGE));
            assertEquals(0, c.command(Nbd.CMD_TRIM, Nbd.CMD_FLAG_FUA, 0, PAGE));
            assertEquals(0, c.command(Nbd.CMD_WRITE_ZEROES, 0, PAGE, PAGE));
            assertEquals(0, c.command(Nbd.CMD_WRITE_ZEROES, Nbd.CMD_FLAG_NO_HOLE, 2L * PAGE, 100));
            assertEquals(0, c.command(Nbd.CMD_WRITE_ZEROES, Nbd.CMD_FLAG_FAST_ZERO, 3L * PAGE, 0));
            byte[] back = c.read(0, 4 * PAGE);
            byte[] expected = ones.clone();
            java.util.Arrays.fill(expected, 0, 2 * PAGE + 100, (byte) 0);
            assertArrayEquals(expected, back);
            assertEquals(2L * PAGE, server.export().allocatedBytes());
        }
    }

    @Test
    public void blockStatusReportsWrittenPagesAsData() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            c.write(PAGE, new byte[PAGE], 0);
            Reply reply = c.call(Request.of(Nbd.CMD_BLOCK_STATUS, 0, c.cookie(), 0, 3 * PAGE));
            assertEquals(0, reply.error());
            assertEquals(1, reply.chunks().size());
            Chunk status = reply.chunks().get(0);
            assertTrue(status.isDone());
            assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, status.type());
            assertEquals(1, Chunks.contextId(status));
            ByteBuffer p = status.payload();
            p.getInt();
            int[] expected = {PAGE, 3, PAGE, 0, PAGE, 3};
            for (int v : expected) {
                assertEquals(v, p.getInt());
            }
            assertFalse(p.hasRemaining());

            Reply one = c.call(Request.of(Nbd.CMD_BLOCK_STATUS, Nbd.CMD_FLAG_REQ_ONE, c.cookie(), 0, 3 * PAGE));
            assertEquals(12, one.chunks().get(0).length());
        }
    }

    @Test
    public void blockStatusWithoutAContextIsEinval() throws IOException {
        try (TestClient c = TestClient.connect(unix(), List.of())) {
            Reply r = c.call(Request.of(Nbd.CMD_BLOCK_STATUS, 0, c.cookie(), 0, 4096));
            assertEquals(Nbd.EINVAL, r.error());
            assertTrue("errors come as chunks once structured", r.isStructured());
        }
    }

    @Test
    public void rangesBeyondTheEnd() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            assertEquals(Nbd.ENOSPC, c.write(SIZE - 1, new byte[2], 0));
            assertEquals(Nbd.ENOSPC, c.command(Nbd.CMD_WRITE_ZEROES, 0, SIZE, 1));
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_TRIM, 0, SIZE - 10, 11));
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_CACHE, 0, SIZE + 1, 0));
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_BLOCK_STATUS, 0, SIZE - 1, 2));
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_READ, 0, Long.MIN_VALUE, 1));
            Reply read = c.call(Request.of(Nbd.CMD_READ, 0, c.cookie(), SIZE, 1));
            assertEquals(Nbd.EINVAL, read.error());
            assertTrue(read.isStructured());
            assertEquals(0, c.write(SIZE - 2, new byte[] {4, 5}, 0));
            assertArrayEquals(new byte[] {4, 5}, c.read(SIZE - 2, 2));
        }
    }

    @Test
    public void flagsNotValidForTheCommandAreEinval() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_FLUSH, Nbd.CMD_FLAG_DF, 0, 0));
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_READ, Nbd.CMD_FLAG_NO_HOLE, 0, 10));
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_TRIM, Nbd.CMD_FLAG_REQ_ONE, 0, 10));
            assertEquals(Nbd.EINVAL, c.write(0, new byte[10], Nbd.CMD_FLAG_FAST_ZERO));
            assertEquals(0, c.command(Nbd.CMD_FLUSH, Nbd.CMD_FLAG_FUA, 0, 0));
        }
    }

    @Test
    public void unknownCommandsAndBadFlagsAreAnsweredAndTheConnectionGoesOn() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            long cookie = c.cookie();
            Request unknown = Request.of(42, 0, cookie, 0, 0);
            c.send(unknown);
            assertEquals(Nbd.EINVAL, c.awaitReply().error());
            assertEquals(Nbd.EINVAL, c.command(Nbd.CMD_RESIZE, 0, 0, SIZE));
            // A WRITE with an unknown flag: its payload is consumed, the stream stays in step.
            assertEquals(Nbd.EINVAL, c.write(0, new byte[1000], 1 << 7));
            // A READ over the maximum payload: EOVERFLOW.
            Reply big = c.call(Request.of(Nbd.CMD_READ, 0, c.cookie(), 0, Nbd.MAX_PAYLOAD + 1L));
            assertEquals(Nbd.EOVERFLOW, big.error());
            assertArrayEquals(new byte[10], c.read(0, 10));
        }
    }

    @Test
    public void aBadMagicClosesTheConnection() throws IOException {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            c.sendRaw(new byte[28], null);
            assertFalse("closed by the server", c.in.hasMore());
        }
    }

    @Test
    public void disconnectClosesTheConnection() throws Exception {
        try (TestClient c = TestClient.connect(unix(), BASE)) {
            c.write(0, new byte[] {1}, 0);
            c.disconnect();
            assertFalse(c.in.hasMore());
        }
        awaitNoClients();
    }

    @Test
    public void abortDuringTheHandshake() throws Exception {
        unix();
        try (TestClient c = TestClient.raw(server)) {
            c.in.readLong();
            c.in.readLong();
            c.in.readUnsignedShort();
            c.out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE).writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_ABORT).writeInt(0);
            c.out.flush();
            assertEquals(Nbd.REPLY_MAGIC, c.in.readLong());
            assertEquals(Nbd.OPT_ABORT, c.in.readInt());
            assertEquals(Nbd.REP_ACK, c.in.readInt());
            assertEquals(0, c.in.readInt());
            assertFalse(c.in.hasMore());
        }
    }

    @Test
    public void anUnknownExportNameClosesTheConnection() throws IOException {
        unix();
        try (TestClient c = TestClient.raw(server)) {
            try {
                org.flexnbd.protocol.ClientHandshake.negotiate(c.in, c.out, "nope", BASE);
                fail();
            } catch (NbdException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("unknown export"));
            }
        }
    }

    @Test
    public void manyClientsShareTheExport() throws Exception {
        unix();
        TestClient[] clients = new TestClient[4];
        try {
            for (int i = 0; i < clients.length; i++) {
                clients[i] = TestClient.connect(server, BASE);
                clients[i].write((long) i * PAGE, MemoryExportTest.pattern(PAGE, i), 0);
            }
            for (int i = 0; i < clients.length; i++) {
                int other = (i + 1) % clients.length;
                assertArrayEquals(MemoryExportTest.pattern(PAGE, other), clients[i].read((long) other * PAGE, PAGE));
            }
            assertEquals(4, server.clientCount());
        } finally {
            for (TestClient c : clients) {
                if (c != null) {
                    c.close();
                }
            }
        }
        awaitNoClients();
    }

    @Test
    public void pipelinedRequestsAreAnsweredInOrder() throws IOException {
        try (TestClient c = TestClient.connect(tcp(), BASE)) {
            int n = 32;
            for (int i = 0; i < n; i++) {
                c.send(Request.write(0, 1000 + i, (long) i * 4096, ByteBuffer.wrap(MemoryExportTest.pattern(4096, i))));
            }
            for (int i = 0; i < n; i++) {
                Reply r = c.awaitReply();
                assertEquals(1000 + i, r.cookie());
                assertEquals(0, r.error());
            }
            assertArrayEquals(MemoryExportTest.pattern(4096, 31), c.read(31 * 4096L, 4096));
        }
    }

    @Test
    public void closeDropsClientsAndRemovesTheSocketFile() throws Exception {
        unix();
        Path socket = Path.of(server.address());
        TestClient c = TestClient.connect(server, BASE);
        try {
            assertNotNull(c.read(0, 10));
            server.close();
            assertFalse(Files.exists(socket));
            assertFalse("connection closed", c.in.hasMore());
            assertEquals(0, server.clientCount());
        } catch (IOException closedUnderneath) {
            // a reset is as good as an end of stream
        } finally {
            c.close();
        }
        try {
            TestClient.raw(server).close();
            fail("still accepting");
        } catch (IOException expected) {
            // ok
        }
        server.close(); // twice is harmless
    }

    @Test
    public void aStaleSocketFileIsReplaced() throws IOException {
        Path path = tmp.getRoot().toPath().resolve("stale.sock");
        // A listener that went away without removing its file, as after a crash.
        java.nio.channels.ServerSocketChannel crashed = java.nio.channels.ServerSocketChannel
                .open(java.net.StandardProtocolFamily.UNIX);
        crashed.bind(java.net.UnixDomainSocketAddress.of(path));
        crashed.close();
        assertTrue(Files.exists(path));
        server = MemoryServer.onUnixSocket(path, new MemoryExport(SIZE));
        try (TestClient c = TestClient.connect(server, BASE)) {
            assertEquals(SIZE, c.export.export().size());
        }
    }

    @Test
    public void aRegularFileIsNeverReplaced() throws IOException {
        Path regular = tmp.newFile("regular").toPath();
        try {
            MemoryServer.onUnixSocket(regular, new MemoryExport(SIZE)).close();
            fail("a regular file must not be replaced");
        } catch (IOException expected) {
            assertTrue(Files.isRegularFile(regular));
        }
    }

    private void awaitNoClients() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.clientCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, server.clientCount());
    }
}
