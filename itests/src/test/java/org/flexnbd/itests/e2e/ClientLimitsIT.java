package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * No client can hold what the others need: a handshake that does not end, or a WRITE whose payload does not come,
 * is cut off after its limit (here 2 s, configured in a copy of the distribution), and the others are served.
 */
public class ClientLimitsIT {
    private static final int LIMIT_SECONDS = 2;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    private Path applianceWithShortLimits() throws IOException {
        Path home = E2E.copyOfTheDistribution(tmp.getRoot().toPath().resolve("appliance"));
        Path cfg = home.resolve("config/org.flexnbd.downstream.cfg");
        String defaults = Files.readString(cfg);
        assertTrue(defaults.contains("handshakeTimeoutSeconds=10"));
        assertTrue(defaults.contains("payloadTimeoutSeconds=30"));
        Files.writeString(cfg, defaults.replace("handshakeTimeoutSeconds=10", "handshakeTimeoutSeconds=" + LIMIT_SECONDS)
                .replace("payloadTimeoutSeconds=30", "payloadTimeoutSeconds=" + LIMIT_SECONDS));
        return home;
    }

    /** A client, started now on its own thread, that waits for its place and then reads 4 KiB. */
    private static CompletableFuture<Reply> waitingClient(int port) {
        return E2E.async(() -> {
            try (ScriptedClient next = new ScriptedClient(port)) {
                return next.call(ScriptedClient.read(100, 0, 4096));
            }
        });
    }

    @Test
    public void anIdleConnectionAndAOneByteASecondHandshakeGiveUpTheOnlyPlace() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = applianceWithShortLimits();
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port()))) {
            // A TCP connection that sends nothing: it takes the one place (--max-clients 1) and its hello.
            try (SocketChannel idle = SocketChannel.open(new InetSocketAddress("127.0.0.1", proxy.port))) {
                long start = System.nanoTime();
                Reply r = waitingClient(proxy.port).get(LIMIT_SECONDS + 10, TimeUnit.SECONDS);
                assertEquals(0, r.error());
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue("served after " + waited + " ms", waited >= LIMIT_SECONDS * 1000 - 500);
                assertTrue("the idle connection was closed", endOfStream(idle, 5));
            }
            // A client that answers the hello one byte a second, each byte on time, the whole never.
            try (SocketChannel slow = SocketChannel.open(new InetSocketAddress("127.0.0.1", proxy.port))) {
                ByteBuffer hello = ByteBuffer.allocate(18);
                while (hello.hasRemaining() && slow.read(hello) > 0) {
                    // the newstyle hello: magic, IHAVEOPT, handshake flags
                }
                CompletableFuture<Void> dribble = CompletableFuture.runAsync(() -> {
                    ByteBuffer reply = ByteBuffer.allocate(4 + 16).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE)
                            .putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(4).flip();
                    try {
                        for (int i = 0; i < 20 && reply.hasRemaining(); i++) {
                            slow.write(reply.slice(reply.position(), 1));
                            reply.position(reply.position() + 1);
                            Thread.sleep(1000);
                        }
                    } catch (IOException | InterruptedException closed) {
                        // cut off, as it should be
                    }
                });
                long start = System.nanoTime();
                Reply r = waitingClient(proxy.port).get(LIMIT_SECONDS + 10, TimeUnit.SECONDS);
                assertEquals(0, r.error());
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue("served after " + waited + " ms", waited < (LIMIT_SECONDS + 3) * 1000);
                dribble.get(25, TimeUnit.SECONDS);
            }
            String err = proxy.stderr();
            assertEquals(err, 2, err.lines().filter(l -> l.contains("handshake not complete after")).count());
        }
    }

    /**
     * Three clients send a 32 MiB WRITE's header and one byte of its data and stall; a fourth does verified I/O
     * meanwhile, no slower (within the payload limit) than alone, and the three are closed.
     */
    @Test
    public void stalledWritePayloadsDoNotSlowAFourthClient() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = applianceWithShortLimits();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "1G").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--max-clients", "4")) {
            int rounds = 200;
            long alone;
            try (VerifiedIo io = VerifiedIo.start(proxy.port, 64)) {
                io.awaitVerified(20); // warm: the first writes into nbdkit's memory are slow
                long start = System.nanoTime();
                io.awaitMore(rounds);
                alone = System.nanoTime() - start;
            }
            List<ScriptedClient> stalled = new ArrayList<>();
            try (VerifiedIo io = VerifiedIo.start(proxy.port, 64)) {
                io.awaitVerified(20);
                for (int i = 0; i < 3; i++) {
                    ScriptedClient c = new ScriptedClient(proxy.port);
                    stalled.add(c);
                    c.sendRaw(ByteBuffer.allocate(Nbd.REQUEST_HEADER_LENGTH + 1).putInt(Nbd.REQUEST_MAGIC)
                            .putShort((short) 0).putShort((short) Nbd.CMD_WRITE).putLong(1).putLong(0)
                            .putInt(32 << 20).put((byte) 1).flip());
                }
                long start = System.nanoTime();
                io.awaitMore(rounds);
                long beside = System.nanoTime() - start;
                assertTrue("alone " + alone / 1_000_000 + " ms, beside three stalled WRITEs " + beside / 1_000_000
                        + " ms", beside <= alone + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS));
                // The stalled are closed: two at the limit, the third (waiting for budget until then) after it.
                for (ScriptedClient c : stalled) {
                    assertTrue("a stalled client was closed", endOfStream(c.socket, 3 * LIMIT_SECONDS + 10));
                }
                io.awaitMore(10);
            } finally {
                for (ScriptedClient c : stalled) {
                    c.close();
                }
            }
            String err = proxy.stderr();
            assertEquals(err, 3, err.lines().filter(l -> l.contains("WRITE payload not complete after")).count());
        }
    }

    /** Whether the peer closes {@code c} within {@code seconds} (what it sent before is read and dropped). */
    static boolean endOfStream(SocketChannel c, int seconds) throws Exception {
        CompletableFuture<Boolean> eof = CompletableFuture.supplyAsync(() -> {
            try {
                ByteBuffer sink = ByteBuffer.allocate(1 << 16);
                for (int i = 0; i < 10_000; i++) {
                    sink.clear();
                    if (c.read(sink) < 0) {
                        return true;
                    }
                }
                return false;
            } catch (IOException reset) {
                return true;
            }
        });
        try {
            return eof.get(seconds, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        }
    }
}
