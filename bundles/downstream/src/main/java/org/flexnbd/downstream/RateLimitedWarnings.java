package org.flexnbd.downstream;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Warnings about one client, at most {@link #BURST} in each {@link #WINDOW_SECONDS}-second window; the rest are
 * counted, and the count is told with the next warning let through, or when the client goes. A client sending a
 * hundred thousand invalid commands made a hundred thousand W lines (10.8 MB in 1.4 s): the log is the operator's,
 * not the client's. Used by one session's thread at a time, but safe from any.
 */
final class RateLimitedWarnings {
    static final int BURST = 10;
    static final long WINDOW_SECONDS = 10;

    private final Logger log;
    private final String about;
    private final LongSupplier nanoClock;
    private long windowStart;
    private int inWindow;
    private long suppressed;

    /** @param about who the warnings are about, as the suppression count names it ("client 127.0.0.1:5000") */
    RateLimitedWarnings(Logger log, String about, LongSupplier nanoClock) {
        this.log = log;
        this.about = about;
        this.nanoClock = nanoClock;
        this.windowStart = nanoClock.getAsLong();
    }

    RateLimitedWarnings(Logger log, String about) {
        this(log, about, System::nanoTime);
    }

    synchronized void warn(String message) {
        long now = nanoClock.getAsLong();
        if (now - windowStart >= TimeUnit.SECONDS.toNanos(WINDOW_SECONDS)) {
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow >= BURST) {
            suppressed++;
            return;
        }
        inWindow++;
        if (suppressed > 0) {
            log.warning(message + " (and " + suppressed + " more warnings about " + about + " not logged)");
            suppressed = 0;
        } else {
            log.warning(message);
        }
    }

    /** Tells the count of warnings not logged since the last one that was; the client has gone. */
    synchronized void close() {
        if (suppressed > 0) {
            log.warning(suppressed + " more warnings about " + about + " not logged (at most " + BURST + " in "
                    + WINDOW_SECONDS + " s)");
            suppressed = 0;
        }
    }
}
