package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** What a hostile client can do to the operator's log: neither forge lines in it nor flood it. */
public class HostileClientIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private ScriptedUpstream upstream;
    private Proxy proxy;

    @Before
    public void start() throws Exception {
        E2E.assumeDistribution();
        upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
        proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(upstream.port()), "-v");
    }

    @After
    public void stop() throws IOException {
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    public void anExportNameCannotForgeALineNorDriveTheTerminal() throws Exception {
        String hostile = "x\u001b[2J\u0000\u2028W:1 main Forged.java:1: all is well\u202etxt\u0085";
        // Newstyle, and NBD_OPT_EXPORT_NAME, which the proxy can only answer by closing (and logging why).
        try (java.nio.channels.SocketChannel s = java.nio.channels.SocketChannel
                .open(new java.net.InetSocketAddress("127.0.0.1", proxy.port))) {
            ByteBuffer hello = ByteBuffer.allocate(18);
            while (hello.hasRemaining() && s.read(hello) >= 0) {
                // the server's greeting
            }
            byte[] name = hostile.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ByteBuffer option = ByteBuffer.allocate(4 + 16 + name.length).putInt(3).putLong(0x49484156454F5054L)
                    .putInt(1).putInt(name.length).put(name).flip();
            while (option.hasRemaining()) {
                s.write(option);
            }
            ByteBuffer rest = ByteBuffer.allocate(4096);
            s.socket().setSoTimeout(10_000);
            while (s.read(rest.clear()) >= 0) {
                // until the proxy closes
            }
        }
        long deadline = System.currentTimeMillis() + 10_000;
        while (!proxy.stderr().contains("Forged.java") && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        String err = proxy.stderr();
        List<String> named = err.lines().filter(l -> l.contains("Forged.java")).collect(Collectors.toList());
        assertEquals(err, 1, named.size());
        assertTrue(named.get(0), named.get(0).contains("x\\x1b[2J\\x00\\u2028W:1 main Forged.java:1: all is well"
                + "\\u202etxt\\x85"));
        for (char c : err.toCharArray()) {
            assertTrue("a raw control or separator character in the log: " + (int) c, c == '\n'
                    || (c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f) && c != '\u2028' && c != '\u2029'
                            && c != '\u202e'));
        }
    }

    @Test
    public void aHundredThousandInvalidCommandsMakeAFewWarnings() throws Exception {
        int count = 100_000;
        try (ScriptedClient c = new ScriptedClient(proxy.port)) {
            AtomicReference<Exception> failed = new AtomicReference<>();
            Thread sender = new Thread(() -> {
                ByteBuffer batch = ByteBuffer.allocate(28 * 1000);
                try {
                    for (int i = 0; i < count; i += 1000) {
                        batch.clear();
                        for (int j = 0; j < 1000; j++) {
                            batch.putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) 99)
                                    .putLong(i + j + 1).putLong(0).putInt(0);
                        }
                        c.sendRaw(batch.flip());
                    }
                } catch (IOException e) {
                    failed.set(e);
                }
            });
            sender.start();
            for (int i = 1; i <= count; i++) {
                c.expect(Request.of(Nbd.CMD_FLUSH, 0, i, 0, 0));
                assertEquals(Nbd.EINVAL, c.next().error());
            }
            sender.join(30_000);
            assertEquals(null, failed.get());
            assertEquals(0, c.call(ScriptedClient.read(count + 1, 0, 512)).error());
        }
        long deadline = System.currentTimeMillis() + 10_000;
        while (!proxy.stderr().contains("not logged") && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        String err = proxy.stderr();
        long warnings = err.lines().filter(l -> l.startsWith("W:")).count();
        assertTrue(warnings + " W lines", warnings <= 30);
        assertTrue(err, err.lines().anyMatch(l -> l.startsWith("W:") && l.contains("more warnings about client")));
        assertFalse(err.length() > 100_000);
    }
}
