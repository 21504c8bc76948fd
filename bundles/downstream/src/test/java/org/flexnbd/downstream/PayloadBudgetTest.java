package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.Test;

public class PayloadBudgetTest {
    private static final long MIB = 1 << 20;
    private static final Runnable NOBODY = () -> { };

    /** Two clients of 8 MiB with 4 MiB promised to each (a fresh pair for each test), and a count of wake-ups. */
    private final PayloadBudget pair = PayloadBudget.forClients(8 * MIB, 2, 4 * MIB);
    private final PayloadBudget.Share a = pair.join();
    private final PayloadBudget.Share b = pair.join();
    private final AtomicInteger woken = new AtomicInteger();

    /** The case of the issue: three clients hold a maximum-sized WRITE each and stall; a fourth must not wait. */
    @Test
    public void stalledClientsCannotStopAnotherWithinItsPromise() {
        PayloadBudget budget = PayloadBudget.forClients(64 * MIB, 4, 32 * MIB);
        PayloadBudget.Share[] stalled = {budget.join(), budget.join(), budget.join()};
        PayloadBudget.Share fourth = budget.join();
        assertTrue(stalled[0].tryAcquire(32 * MIB, NOBODY));
        assertTrue(stalled[1].tryAcquire(32 * MIB, NOBODY));
        assertFalse("the third borrower waits: the others' promises are kept", stalled[2].tryAcquire(32 * MIB, NOBODY));
        for (int i = 0; i < 16; i++) {
            assertTrue(fourth.tryAcquire(MIB, NOBODY));
        }
        assertFalse("beyond its promise it borrows, and nothing is left to borrow", fourth.tryAcquire(MIB, NOBODY));
    }

    @Test
    public void aClientHoldingNothingGetsAMaximumSizedRequestOnceOthersAreWithinTheirPromises() {
        PayloadBudget budget = PayloadBudget.forClients(64 * MIB, 4, 32 * MIB);
        PayloadBudget.Share first = budget.join();
        PayloadBudget.Share second = budget.join();
        budget.join();
        budget.join();
        assertTrue(first.tryAcquire(16 * MIB, NOBODY));
        assertTrue(second.tryAcquire(32 * MIB, NOBODY));
        second.release(32 * MIB);
        PayloadBudget.Share c = budget.join(); // a fifth client would break the promise: forClients is per place
        c.leave();
        assertTrue(second.tryAcquire(32 * MIB, NOBODY));
    }

    @Test
    public void oneClientAloneHasTheWholeBudget() {
        PayloadBudget budget = PayloadBudget.forClients(64 * MIB, 1, 32 * MIB);
        PayloadBudget.Share only = budget.join();
        assertTrue(only.tryAcquire(32 * MIB, NOBODY));
        assertTrue(only.tryAcquire(32 * MIB, NOBODY));
        assertTrue(only.tryAcquire(32 * MIB, NOBODY));
        assertFalse(only.tryAcquire(1, NOBODY));
        assertEquals(96 * MIB, budget.used());
    }

    @Test
    public void aRequestOverTheLimitPassesWhenNothingIsHeld() {
        PayloadBudget budget = new PayloadBudget(MIB, 0);
        PayloadBudget.Share s = budget.join();
        assertTrue(s.tryAcquire(4 * MIB, NOBODY));
        assertFalse(s.tryAcquire(1, NOBODY));
        s.release(4 * MIB);
        assertEquals(0, budget.used());
    }

    @Test
    public void aLeavingClientGivesBackItsPromiseAndWakesWaiters() {
        assertTrue(a.tryAcquire(8 * MIB, NOBODY)); // its 4 MiB promise and 4 borrowed: b's promise is all that is left
        assertFalse(a.tryAcquire(4 * MIB, woken::incrementAndGet));
        assertFalse(a.tryAcquire(4 * MIB, woken::incrementAndGet));
        assertEquals(0, woken.get());
        b.leave();
        assertEquals("asked twice, told once", 1, woken.get());
        assertTrue(a.tryAcquire(4 * MIB, NOBODY));
        assertEquals(12 * MIB, pair.used());
    }

    /** Budget another client gives back wakes the one waiting for it: its loop need not look again on a timer. */
    @Test
    public void budgetGivenBackByAnotherClientWakesTheOneWaiting() {
        assertTrue(a.tryAcquire(8 * MIB, NOBODY));
        assertTrue(b.tryAcquire(4 * MIB, NOBODY)); // within its promise
        assertFalse("beyond it, nothing is left to borrow", b.tryAcquire(MIB, woken::incrementAndGet));
        a.release(0); // a FLUSH's reply written: nothing came back
        assertEquals(0, woken.get());
        a.release(4 * MIB);
        assertEquals(1, woken.get());
        assertTrue(b.tryAcquire(MIB, NOBODY));
        a.release(4 * MIB);
        assertEquals("told only while waiting", 1, woken.get());
    }

    @Test
    public void aClientThatLeavesWhileWaitingIsNotToldLater() {
        assertTrue(a.tryAcquire(12 * MIB, NOBODY));
        assertFalse(b.tryAcquire(4 * MIB + 1, woken::incrementAndGet));
        b.leave();
        a.release(12 * MIB);
        assertEquals(0, woken.get());
    }

    @Test
    public void whatALeftClientStillHoldsCountsUntilReleased() {
        assertTrue(a.tryAcquire(12 * MIB, NOBODY));
        a.leave();
        assertFalse(b.tryAcquire(4 * MIB + 1, NOBODY));
        assertTrue(b.tryAcquire(MIB, NOBODY)); // its promise holds
        a.release(12 * MIB);
        assertTrue(b.tryAcquire(8 * MIB, NOBODY));
        assertEquals(9 * MIB, pair.used());
    }
}
