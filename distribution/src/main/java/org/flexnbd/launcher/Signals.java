package org.flexnbd.launcher;

import java.util.List;
import java.util.function.Consumer;
import java.util.logging.Logger;

import sun.misc.Signal;

/**
 * SIGTERM, SIGINT and SIGHUP end the process cleanly, with status 0: instead of the JVM's default (run the shutdown
 * hooks, exit 143, 130 or 129, with no drain and the socket and cache left behind), the handler reports the signal
 * and the main thread stops the framework. SIGHUP is a stop, not a reload: a supervisor's hang-up (a closed terminal)
 * means the proxy is to go; configuration changes are picked up from config/ without a signal.
 */
final class Signals {
    private static final Logger LOG = Logger.getLogger(Signals.class.getName());

    private Signals() {
    }

    /** Calls {@code action} with the signal's name (TERM, INT, HUP) when one of them arrives. */
    static void onTermination(Consumer<String> action) {
        for (String name : List.of("TERM", "INT", "HUP")) {
            try {
                Signal.handle(new Signal(name), signal -> action.accept(signal.getName()));
            } catch (IllegalArgumentException e) {
                LOG.fine("cannot handle SIG" + name + ": " + e.getMessage());
            }
        }
    }
}
