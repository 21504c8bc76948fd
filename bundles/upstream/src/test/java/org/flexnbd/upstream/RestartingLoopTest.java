package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.Test;

/**
 * The failure policy of an upstream link's thread, forced: an Error in its body is logged (E), the piece's state is
 * put right, and the body runs again. The past bug: an Error ended a link's thread silently, and its client's
 * requests waited for ever.
 */
public class RestartingLoopTest {

    @Test
    public void anErrorIsLoggedAndThePieceRunsAgain() {
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger repairs = new AtomicInteger();
        Logger log = Logger.getLogger(RestartingLoop.class.getName());
        Recorder recorder = new Recorder();
        log.addHandler(recorder);
        try {
            new RestartingLoop("upstream-1", () -> {
                if (runs.incrementAndGet() == 1) {
                    throw new OutOfMemoryError("unable to create native thread");
                }
            }, repairs::incrementAndGet, () -> false, 1).run();
        } finally {
            log.removeHandler(recorder);
        }
        assertEquals(2, runs.get());
        assertEquals(1, repairs.get());
        assertEquals(Level.SEVERE, recorder.last.getLevel());
        assertTrue(recorder.last.getMessage(), recorder.last.getMessage().startsWith("upstream-1 failed"));
    }

    @Test
    public void aFailureOnceStoppedEndsItQuietly() {
        AtomicInteger runs = new AtomicInteger();
        new RestartingLoop("upstream-2", () -> {
            runs.incrementAndGet();
            throw new IllegalStateException("closed under it");
        }, () -> { }, () -> true, 1).run();
        assertEquals(1, runs.get());
    }

    private static final class Recorder extends Handler {
        volatile LogRecord last;

        @Override
        public void publish(LogRecord r) {
            last = r;
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }
}
