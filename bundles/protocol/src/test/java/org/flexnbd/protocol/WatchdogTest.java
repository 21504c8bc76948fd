package org.flexnbd.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Failures forced on a watchdog's rounds: each logged, and the rounds go on. */
public class WatchdogTest {
    private final Logger log = Logger.getLogger(Watchdog.class.getName());
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();

    @Before
    public void captureLog() {
        log.setFilter(r -> !records.add(r)); // kept here, kept off the console
    }

    @After
    public void releaseLog() {
        log.setFilter(null);
    }

    @Test
    public void aRoundThatThrowsAnErrorOrAnExceptionIsLoggedAndTheNextComes() throws Exception {
        AtomicInteger rounds = new AtomicInteger();
        CountDownLatch twoAfterFailures = new CountDownLatch(4);
        Watchdog w = Watchdog.start("test-watchdog", 5, () -> {
            int n = rounds.incrementAndGet();
            twoAfterFailures.countDown();
            if (n == 1) {
                throw new OutOfMemoryError("forced: no heap in this round");
            }
            if (n == 2) {
                throw new IllegalStateException("forced: a session in a state it should not be in");
            }
        });
        try {
            assertTrue("rounds went on after two failures", twoAfterFailures.await(5, TimeUnit.SECONDS));
        } finally {
            w.stop();
        }
        List<LogRecord> severe = records.stream().filter(r -> r.getLevel() == Level.SEVERE).toList();
        assertEquals("each failure logged once, as E", 2, severe.size());
        assertTrue(severe.get(0).getMessage(), severe.get(0).getMessage().startsWith("test-watchdog: a round failed"));
        assertTrue(severe.get(0).getThrown() instanceof OutOfMemoryError);
        assertTrue(severe.get(1).getThrown() instanceof IllegalStateException);
    }

    @Test
    public void noRoundAfterStop() throws Exception {
        AtomicInteger rounds = new AtomicInteger();
        CountDownLatch first = new CountDownLatch(1);
        Watchdog w = Watchdog.start("test-watchdog", 5, () -> {
            rounds.incrementAndGet();
            first.countDown();
        });
        assertTrue(first.await(5, TimeUnit.SECONDS));
        w.stop();
        Thread.sleep(20); // a round under way when stop() came finishes
        int after = rounds.get();
        Thread.sleep(50);
        assertEquals("ten steps later, no further round", after, rounds.get());
    }

    @Test(expected = IllegalArgumentException.class)
    public void aStepOfZeroIsRefused() {
        Watchdog.start("test-watchdog", 0, () -> { });
    }
}
