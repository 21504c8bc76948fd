package org.flexnbd.upstream;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.Test;

public class ComebackTest {
    private final Comeback comeback = new Comeback();

    @Test
    public void aConnectionAfterTheMarkEndsThePause() throws Exception {
        long mark = comeback.mark();
        CompletableFuture<Boolean> paused = CompletableFuture.supplyAsync(() -> pause(mark, 60_000));
        comeback.connected();
        assertTrue("cut short", paused.get(10, TimeUnit.SECONDS));
    }

    @Test
    public void aConnectionBeforeTheMarkDoesNot() throws Exception {
        comeback.connected();
        assertFalse(comeback.pause(comeback.mark(), 20));
    }

    private boolean pause(long mark, long millis) {
        try {
            return comeback.pause(mark, millis);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
