package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class BackoffTest {

    @Test
    public void atOnceThenDoublingFromATenthOfASecondUpToTheCeiling() {
        Backoff b = new Backoff(5000);
        long[] expected = {0, 100, 200, 400, 800, 1600, 3200, 5000, 5000};
        for (long e : expected) {
            assertEquals(e, b.nextDelayMillis());
        }
    }

    @Test
    public void aResetStartsAgainAtOnce() {
        Backoff b = new Backoff(5000);
        b.nextDelayMillis();
        b.nextDelayMillis();
        b.reset();
        assertEquals(0, b.nextDelayMillis());
        assertEquals(100, b.nextDelayMillis());
    }

    @Test
    public void aCeilingBelowTheFirstStepIsKept() {
        Backoff b = new Backoff(50);
        assertEquals(0, b.nextDelayMillis());
        assertEquals(50, b.nextDelayMillis());
        assertEquals(50, b.nextDelayMillis());
    }
}
