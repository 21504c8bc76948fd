package org.flexnbd.launcher;

import java.util.List;
import java.util.function.Consumer;
import java.util.logging.Logger;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT end the process cleanly, with status 0: instead of the JVM's default (run the shutdown hooks,
 * exit 143 or 130), the handler reports the signal and the main thread stops the framework.
 */
final class Signals {
    private static final Logger LOG = Logger.getLogger(Signals.class.getName());

    private Signals() {
    }

    /** Calls {@code action} with the signal's name (TERM, INT) when one of them arrives. */
    static void onTermination(Consumer<String> action) {
        for (String name : List.of("TERM", "INT")) {
            try {
                Signal.handle(new Signal(name), signal -> action.accept(signal.getName()));
            } catch (IllegalArgumentException e) {
                LOG.fine("cannot handle SIG" + name + ": " + e.getMessage());
            }
        }
    }
}
