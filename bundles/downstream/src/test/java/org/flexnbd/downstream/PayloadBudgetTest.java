package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.Test;

public class PayloadBudgetTest {
    private static final long MIB = 1 << 20;

    /** The case of the issue: three clients hold a maximum-sized WRITE each and stall; a fourth must not wait. */
    @Test
    public void stalledClientsCannotStopAnotherWithinItsPromise() {
        PayloadBudget budget = PayloadBudget.forClients(64 * MIB, 4, 32 * MIB);
        PayloadBudget.Share[] stalled = {budget.join(), budget.join(), budget.join()};
        PayloadBudget.Share fourth = budget.join();
        assertTrue(stalled[0].tryAcquire(32 * MIB));
        assertTrue(stalled[1].tryAcquire(32 * MIB));
        assertFalse("the third borrower waits: the others' promises are kept", stalled[2].tryAcquire(32 * MIB));
        for (int i = 0; i < 16; i++) {
            assertTrue(fourth.tryAcquire(MIB));
        }
        assertFalse("beyond its promise it borrows, and nothing is left to borrow", fourth.tryAcquire(MIB));
    }

    @Test
    public void aClientHoldingNothingGetsAMaximumSizedRequestOnceOthersAreWithinTheirPromises() {
        PayloadBudget budget = PayloadBudget.forClients(64 * MIB, 4, 32 * MIB);
        PayloadBudget.Share a = budget.join();
        PayloadBudget.Share b = budget.join();
        budget.join();
        budget.join();
        assertTrue(a.tryAcquire(16 * MIB));
        assertTrue(b.tryAcquire(32 * MIB));
        b.release(32 * MIB);
        PayloadBudget.Share c = budget.join(); // a fifth client would break the promise: forClients is per place
        c.leave();
        assertTrue(b.tryAcquire(32 * MIB));
    }

    @Test
    public void oneClientAloneHasTheWholeBudget() {
        PayloadBudget budget = PayloadBudget.forClients(64 * MIB, 1, 32 * MIB);
        PayloadBudget.Share only = budget.join();
        assertTrue(only.tryAcquire(32 * MIB));
        assertTrue(only.tryAcquire(32 * MIB));
        assertTrue(only.tryAcquire(32 * MIB));
        assertFalse(only.tryAcquire(1));
        assertEquals(96 * MIB, budget.used());
    }

    @Test
    public void aRequestOverTheLimitPassesWhenNothingIsHeld() {
        PayloadBudget budget = new PayloadBudget(MIB, 0);
        PayloadBudget.Share s = budget.join();
        assertTrue(s.tryAcquire(4 * MIB));
        assertFalse(s.tryAcquire(1));
        s.release(4 * MIB);
        assertEquals(0, budget.used());
    }

    @Test
    public void aLeavingClientGivesBackItsPromiseAndWakesWaiters() throws Exception {
        PayloadBudget budget = PayloadBudget.forClients(8 * MIB, 2, 4 * MIB);
        PayloadBudget.Share a = budget.join();
        PayloadBudget.Share b = budget.join();
        assertTrue(a.tryAcquire(8 * MIB)); // its 4 MiB promise and 4 borrowed: b's promise is all that is left
        assertFalse(a.tryAcquire(4 * MIB));
        CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
            try {
                a.acquire(4 * MIB);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        assertFalse(waiting.isDone());
        b.leave();
        waiting.get(5, TimeUnit.SECONDS);
        assertEquals(12 * MIB, budget.used());
    }

    @Test
    public void whatALeftClientStillHoldsCountsUntilReleased() {
        PayloadBudget budget = PayloadBudget.forClients(8 * MIB, 2, 4 * MIB);
        PayloadBudget.Share a = budget.join();
        PayloadBudget.Share b = budget.join();
        assertTrue(a.tryAcquire(12 * MIB));
        a.leave();
        assertFalse(b.tryAcquire(4 * MIB + 1));
        assertTrue(b.tryAcquire(MIB)); // its promise holds
        a.release(12 * MIB);
        assertTrue(b.tryAcquire(8 * MIB));
        assertEquals(9 * MIB, budget.used());
    }
}
