package org.flexnbd.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.rules.Timeout;

/** The demo server negotiated with and driven by real NBD clients: nbdinfo, qemu-io, nbdsh, nbdcopy. */
public class DemoPeerTest {
    private static final long SIZE = 1L << 30;
    private static final int PAGE = MemoryExport.PAGE_SIZE;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Rule
    public Timeout timeout = Timeout.seconds(120);

    private MemoryServer unix;
    private MemoryServer tcp;
    private String unixUri;
    private String tcpUri;

    @Before
    public void start() throws IOException {
        unix = MemoryServer.onUnixSocket(tmp.getRoot().toPath().resolve("demo.sock"), new MemoryExport(SIZE));
        tcp = MemoryServer.onLoopback(0, new MemoryExport(SIZE));
        unixUri = "nbd+unix:///?socket=" + unix.address();
        tcpUri = "nbd://127.0.0.1:" + tcp.port();
    }

    @After
    public void stop() {
        unix.close();
        tcp.close();
    }

    private static Peer.Result ok(String... command) throws Exception {
        assumeTrue(command[0] + " is not installed", Peer.installed(command[0]));
        Peer.Result r = Peer.run(List.of(command));
        assertEquals(String.join(" ", command) + " said:\n" + r.output(), 0, r.exit());
        return r;
    }

    private static void assertJson(String json, String key, String value) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*([^,\\n}]+)").matcher(json);
        assertTrue(key + " in " + json, m.find());
        assertEquals(key, value, m.group(1).trim());
    }

    private static void assertDescribesTheExport(String json) {
        assertJson(json, "protocol", "\"newstyle-fixed\"");
        assertJson(json, "structured", "true");
        assertJson(json, "export-name", "\"\"");
        assertJson(json, "export-size", Long.toString(SIZE));
        assertJson(json, "is_read_only", "false");
        assertJson(json, "can_flush", "true");
        assertJson(json, "can_fua", "true");
        assertJson(json, "can_trim", "true");
        assertJson(json, "can_zero", "true");
        assertJson(json, "can_fast_zero", "true");
        assertJson(json, "can_cache", "true");
        assertJson(json, "can_df", "true");
        assertJson(json, "can_multi_conn", "true");
        assertTrue(json, json.contains("\"base:allocation\""));
    }

    @Test
    public void nbdinfoOverTheUnixSocket() throws Exception {
        assertDescribesTheExport(ok("nbdinfo", "--json", unixUri).output());
    }

    @Test
    public void nbdinfoOverTcp() throws Exception {
        assertDescribesTheExport(ok("nbdinfo", "--json", tcpUri).output());
        assertEquals(Long.toString(SIZE), ok("nbdinfo", "--size", tcpUri).output().trim());
    }

    @Test
    public void nbdinfoList() throws Exception {
        for (String uri : new String[] {unixUri, tcpUri}) {
            String out = ok("nbdinfo", "--list", uri).output();
            assertTrue(out, out.contains("export=\"\":"));
            assertTrue(out, out.contains("export-size: " + SIZE));
            assertTrue(out, out.contains("base:allocation"));
        }
    }

    @Test
    public void nbdinfoMapShowsWhatWasWritten() throws Exception {
        try (TestClient c = TestClient.connect(unix, List.of())) {
            c.write(16L * PAGE, new byte[2 * PAGE], 0);
        }
        String map = ok("nbdinfo", "--map", unixUri).output();
        String[] lines = map.trim().split("\n");
        assertEquals(map, 3, lines.length);
        assertTrue(map, lines[0].matches("\\s*0\\s+" + 16 * PAGE + "\\s+3\\s+hole,zero"));
        assertTrue(map, lines[1].matches("\\s*" + 16 * PAGE + "\\s+" + 2 * PAGE + "\\s+0\\s+data"));
        assertTrue(map, lines[2].matches("\\s*" + 18 * PAGE + "\\s+" + (SIZE - 18 * PAGE) + "\\s+3\\s+hole,zero"));
    }

    @Test
    public void qemuIoWritesAndVerifiesAPattern() throws Exception {
        for (String uri : new String[] {unixUri, tcpUri}) {
            String out = ok("qemu-io", "-f", "raw", uri, "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M")
                    .output();
            assertTrue(out, out.contains("wrote 1048576/1048576 bytes at offset 0"));
            assertTrue(out, out.contains("read 1048576/1048576 bytes at offset 0"));
            assertFalse(out, out.contains("Pattern verification failed"));
        }
    }

    @Test
    public void qemuIoNoticesTheWrongPattern() throws Exception {
        // The verification is real: a different pattern is caught, and qemu-io exits 1.
        assumeTrue(Peer.installed("qemu-io"));
        Peer.Result r = Peer.run(List.of("qemu-io", "-f", "raw", unixUri, "-c", "write -P 0xab 4096 64k", "-c",
                "read -P 0xcd 4096 64k"));
        assertEquals(r.output(), 1, r.exit());
        assertTrue(r.output(), r.output().contains("Pattern verification failed"));
    }

    @Test
    public void nbdshWritesReadsFlushesTrimsZeroesAndQueriesBlockStatus() throws Exception {
        String script = String.join("\n",
                "h.add_meta_context('base:allocation')",
                "h.connect_uri('" + unixUri + "')",
                "assert h.get_size() == " + SIZE,
                "assert h.can_meta_context('base:allocation')",
                "buf = bytes(range(256)) * 256",
                "h.pwrite(buf, 3 * 65536)",
                "assert h.pread(65536, 3 * 65536) == buf",
                "h.pwrite(buf, 0, nbd.CMD_FLAG_FUA)",
                "h.flush()",
                "h.trim(3 * 65536, 65536)",
                "assert h.pread(3 * 65536, 65536) == bytes(3 * 65536)",
                "h.zero(4096, 0)",
                "assert h.pread(4096, 0) == bytes(4096)",
                "assert h.pread(4096, 4096) == buf[4096:8192]",
                "h.zero(65536, 65536 * 5, nbd.CMD_FLAG_NO_HOLE)",
                "assert h.pread(65536, 65536 * 5) == bytes(65536)",
                "seen = []",
                "def extents(context, offset, entries, err):",
                "    seen.append((context, offset, list(entries)))",
                "    return 0",
                "h.block_status(8 * 65536, 0, extents)",
                "assert seen == [('base:allocation', 0, [65536, 0, 4 * 65536, 3, 65536, 0, 2 * 65536, 3])], seen",
                "h.shutdown()",
                "print('nbdsh script passed')");
        String out = ok("nbdsh", "-c", script).output();
        assertTrue(out, out.contains("nbdsh script passed"));
    }

    @Test
    public void nbdcopyRoundTripOverSeveralConnections() throws Exception {
        byte[] data = new byte[8 << 20];
        new Random(7).nextBytes(data);
        java.util.Arrays.fill(data, 1 << 20, 3 << 20, (byte) 0); // some zeroes for nbdcopy to skip
        long size = 32L << 20;
        MemoryServer small = MemoryServer.onLoopback(0, new MemoryExport(size));
        String uri = "nbd://127.0.0.1:" + small.port();
        Path in = tmp.newFile("in.img").toPath();
        Path out = tmp.getRoot().toPath().resolve("out.img");
        Files.write(in, data);
        try {
            ok("nbdcopy", "-C", "4", "--flush", in.toString(), uri);
            Files.write(out, new byte[0]);
            ok("nbdcopy", "-C", "4", uri, out.toString());
            byte[] back = Files.readAllBytes(out);
            assertEquals(size, back.length);
            assertArrayEquals(data, java.util.Arrays.copyOf(back, data.length));
            assertArrayEquals(new byte[(int) size - data.length], java.util.Arrays.copyOfRange(back, data.length,
                    (int) size));
            assertTrue("the copy is sparse in memory", small.export().allocatedBytes() < 8L << 20);
        } finally {
            small.close();
        }
    }
}
