package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.flexnbd.protocol.tls.TlsMemory;
import org.junit.Test;

/** The places for clients and the memory each takes: plain text, TLS on either side, and a client that waits. */
public class ClientMemoryTest {
    private static final long MIB = 1 << 20;
    /** What pre-shared keys take per connection, as the protocol bundle measured it. */
    private static final TlsMemory PSK = new TlsMemory(256 * 1024, 72 * 1024);

    @Test
    public void inPlainTextTheHeapOrTheDirectMemoryBoundsThePlaces() {
        // 48 MiB of heap beside the reserve at 32 KiB a client; 224 - 96 - 32 = 96 MiB of direct memory at 96 KiB.
        ClientMemory m = new ClientMemory(5000, 96 * MIB, 64 * MIB, 224 * MIB, TlsMemory.NONE);
        assertEquals(1024, m.fit(TlsMemory.NONE));
    }

    @Test
    public void tlsOnBothSidesIsCountedTwice() {
        ClientMemory m = new ClientMemory(5000, 96 * MIB, 64 * MIB, 224 * MIB, PSK);
        assertEquals("the listener's keys: 48 MiB of heap at 288 KiB", 170, m.fit(TlsMemory.NONE));
        assertEquals("and the upstream's: at 544 KiB", 90, m.fit(PSK));
    }

    @Test
    public void aClientWaitsUnansweredForMemoryAnotherGivesBack() throws Exception {
        ClientMemory m = new ClientMemory(5000, 96 * MIB, 64 * MIB, 224 * MIB, PSK);
        List<ClientMemory.Place> places = new ArrayList<>();
        for (int i = 0; i < 90; i++) {
            places.add(m.take(PSK));
        }
        CompletableFuture<ClientMemory.Place> next = arriving(m, PSK);
        assertTrue("a 91st client took memory that 90 hold", stillWaiting(next));
        places.get(0).release();
        places.get(0).release(); // twice gives back once
        ClientMemory.Place p = next.get(10, TimeUnit.SECONDS);
        CompletableFuture<ClientMemory.Place> another = arriving(m, PSK);
        assertTrue("and only one more fits", stillWaiting(another));
        p.release();
        another.get(10, TimeUnit.SECONDS).release();
        places.subList(1, places.size()).forEach(ClientMemory.Place::release);
    }

    @Test
    public void oneClientAlwaysFitsEvenInLessMemoryThanItTakes() throws Exception {
        ClientMemory m = new ClientMemory(10, 96 * MIB, 16 * MIB + 256 * 1024, 224 * MIB, PSK);
        assertEquals(1, m.fit(PSK));
        m.take(PSK).release();
        assertNotNull("given back whole", arriving(m, PSK).get(10, TimeUnit.SECONDS));
    }

    @Test
    public void maxClientsStillBoundsWhatMemoryWouldAllow() throws Exception {
        ClientMemory m = new ClientMemory(2, 96 * MIB, 64 * MIB, 224 * MIB, TlsMemory.NONE);
        ClientMemory.Place a = m.take(TlsMemory.NONE);
        ClientMemory.Place b = m.take(TlsMemory.NONE);
        CompletableFuture<ClientMemory.Place> third = arriving(m, TlsMemory.NONE);
        assertTrue("a third waits", stillWaiting(third));
        a.release();
        third.get(10, TimeUnit.SECONDS).release();
        b.release();
    }

    /** A client arriving while the test holds places: its take, on another thread. */
    private static CompletableFuture<ClientMemory.Place> arriving(ClientMemory m, TlsMemory upstreamTls) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return m.take(upstreamTls);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Whether the client is still without a place after 200 ms. */
    private static boolean stillWaiting(CompletableFuture<ClientMemory.Place> client) throws Exception {
        try {
            client.get(200, TimeUnit.MILLISECONDS);
            return false;
        } catch (TimeoutException e) {
            return true;
        }
    }
}
