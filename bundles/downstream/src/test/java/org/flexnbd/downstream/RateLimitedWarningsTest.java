package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.Test;

public class RateLimitedWarningsTest {
    private final List<String> logged = new ArrayList<>();
    private final Logger log = Logger.getAnonymousLogger();
    private final AtomicLong now = new AtomicLong();

    {
        log.setUseParentHandlers(false);
        log.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                logged.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        });
    }

    @Test
    public void aBurstThenACountWithTheNextWarningAndAtTheEnd() {
        RateLimitedWarnings w = new RateLimitedWarnings(log, "client c", now::get);
        for (int i = 0; i < 100_000; i++) {
            w.warn("bad " + i);
        }
        assertEquals(RateLimitedWarnings.BURST, logged.size());
        now.addAndGet(TimeUnit.SECONDS.toNanos(RateLimitedWarnings.WINDOW_SECONDS));
        w.warn("later");
        assertEquals("later (and " + (100_000 - RateLimitedWarnings.BURST) + " more warnings about client c not"
                + " logged)", logged.get(logged.size() - 1));
        for (int i = 0; i < 20; i++) {
            w.warn("again");
        }
        w.close();
        assertTrue(logged.get(logged.size() - 1), logged.get(logged.size() - 1).startsWith("11 more warnings about"
                + " client c not logged"));
    }
}
