package org.flexnbd.itests.osgi;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Polling with a deadline, for what happens asynchronously in a framework (configurations reaching components,
 * services coming and going). Never sleep a fixed time and hope.
 */
public final class Await {
    /** Enough for anything in a healthy framework on a slow, shared machine. */
    public static final Duration DEFAULT = Duration.ofSeconds(10);

    private Await() {
    }

    /** Waits until the condition holds, or fails with {@code what} and the time waited. */
    public static void until(String what, BooleanSupplier condition) {
        until(what, DEFAULT, condition);
    }

    /** Waits until the condition holds, or fails with {@code what} and the time waited. */
    public static void until(String what, Duration limit, BooleanSupplier condition) {
        value(what, limit, () -> condition.getAsBoolean() ? Boolean.TRUE : null);
    }

    /** Waits until the supplier gives a value other than null and returns it, or fails. */
    public static <T> T value(String what, Duration limit, Supplier<T> supplier) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            T value = supplier.get();
            if (value != null) {
                return value;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + limit.toMillis() + " ms waiting for " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what, e);
            }
        }
    }
}
