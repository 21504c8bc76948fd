package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * SIGTERM with four clients writing as fast as they can: the proxy stops reading requests, lets those in flight
 * finish (all clients at once, within drainSeconds, 5), passes DISCONNECT upstream and exits 0; every write it
 * acknowledged is on the upstream.
 */
public class DrainIT {
    private static final int CLIENTS = 4;
    private static final int BLOCK = 256 * 1024;
    private static final int DEPTH = 8;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    @Test
    public void sigtermWithFourBusyClientsExitsZeroWithEveryAcknowledgedWriteUpstream() throws Exception {
        Path dir = tmp.getRoot().toPath();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "1G").start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), "-C", "127.0.0.1", "-P", Integer.toString(up.port),
                        "--max-clients", Integer.toString(CLIENTS))) {
            Map<Long, Byte> acknowledged = new ConcurrentHashMap<>(); // offset to the fill last acknowledged there
            // Writes sent later to a block than its acknowledged one, whose replies the client never read: they
            // may have reached the upstream (a reply written as the proxy closed can be lost to the reset).
            Map<Long, Byte> unconfirmed = new ConcurrentHashMap<>();
            AtomicLong writes = new AtomicLong();
            List<Thread> writers = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                int client = i;
                Thread t = new Thread(() -> write(proxy.port, client, acknowledged, unconfirmed, writes), "busy-" + i);
                t.start();
                writers.add(t);
            }
            long deadline = System.currentTimeMillis() + 30_000;
            while (writes.get() < 400 && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertTrue("busy before the signal: " + writes.get(), writes.get() >= 400);
            stopsCleanlyWithinTheBound(proxy);
            for (Thread t : writers) {
                t.join(10_000);
            }
            // Straight to the upstream: every acknowledged block is there.
            try (ScriptedClient direct = new ScriptedClient(up.port)) {
                long cookie = 1;
                for (Map.Entry<Long, Byte> e : acknowledged.entrySet()) {
                    Reply r = direct.call(ScriptedClient.read(cookie++, e.getKey(), BLOCK));
                    assertEquals(0, r.error());
                    ByteBuffer data = r.data();
                    byte found = data.get(0);
                    Byte later = unconfirmed.get(e.getKey());
                    assertTrue("block at " + e.getKey() + ": " + found + ", acknowledged " + e.getValue(),
                            found == e.getValue() || later != null && found == later);
                    for (int j = 0; j < BLOCK; j += 512) {
                        assertEquals("block at " + e.getKey(), found, data.get(j));
                    }
                }
            }
            assertTrue(acknowledged.size() > 0);
        }
    }

    /**
     * An upstream that stops answering: SIGTERM still exits 0 within the drain bound, and the request dropped at the
     * bound is logged (a client's connection drops; the operator learns why).
     */
    @Test
    public void aRequestTheUpstreamNeverAnswersIsDroppedAtTheBoundAndLogged() throws Exception {
        Path dir = tmp.getRoot().toPath();
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.STALL_ON_READ, 0);
                Proxy proxy = Proxy.start(dir, Peer.freePort(), "-C", "127.0.0.1", "-P", Integer.toString(up.port()));
                ScriptedClient c = new ScriptedClient(proxy.port)) {
            c.send(ScriptedClient.read(1, 0, BLOCK));
            Thread.sleep(500);
            stopsCleanlyWithinTheBound(proxy);
            String line = "closed at the drain bound with 1 requests unanswered";
            assertEquals(proxy.stderr(), 1, proxy.stderr().split(line, -1).length - 1);
        }
    }

    /** SIGTERM: exit status 0 within the drain bound (5 s by default) and some slack. */
    private static void stopsCleanlyWithinTheBound(Proxy proxy) throws Exception {
        long start = System.nanoTime();
        proxy.process.signal("TERM");
        Integer status = proxy.process.waitFor(20);
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(proxy.stderr(), Integer.valueOf(0), status);
        assertTrue("stopped in " + took + " ms", took < 5000 + 3000);
    }

    /**
     * Keeps DEPTH writes in flight on its own region until the proxy closes the connection; each block's fill changes
     * with every write to it, and only acknowledged writes are recorded (one write in flight per block at a time).
     */
    private static void write(int port, int client, Map<Long, Byte> acknowledged, Map<Long, Byte> unconfirmed,
            AtomicLong writes) {
        long region = (long) client * 64 * BLOCK;
        Map<Long, long[]> inFlight = new ConcurrentHashMap<>(); // cookie to {offset, fill}
        try (ScriptedClient c = new ScriptedClient(port)) {
            long cookie = 1;
            for (long n = 0; n < 1_000_000; n++) {
                while (inFlight.size() < DEPTH) {
                    long offset = region + (cookie % 64) * BLOCK;
                    while (busy(inFlight, offset)) { // replies come in any order: one write per block at a time
                        offset = region + ((offset - region) / BLOCK + 1) % 64 * BLOCK;
                    }
                    byte fill = (byte) (cookie * 7 + client);
                    inFlight.put(cookie, new long[] {offset, fill});
                    c.send(ScriptedClient.write(cookie, offset, fill, BLOCK));
                    cookie++;
                }
                Reply r = c.next();
                long[] w = inFlight.remove(r.cookie());
                if (r.error() == 0) {
                    acknowledged.put(w[0], (byte) w[1]);
                    writes.incrementAndGet();
                }
            }
        } catch (Exception closed) {
            // the proxy stopped
        }
        for (long[] w : inFlight.values()) {
            unconfirmed.put(w[0], (byte) w[1]);
        }
    }

    private static boolean busy(Map<Long, long[]> inFlight, long offset) {
        return inFlight.values().stream().anyMatch(w -> w[0] == offset);
    }
}
