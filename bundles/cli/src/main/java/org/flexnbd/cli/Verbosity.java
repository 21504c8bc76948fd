package org.flexnbd.cli;

import java.util.logging.Level;

/** How much is logged on stderr: the log level set on the root java.util.logging logger. */
enum Verbosity {
    /** -q: fatal lines (level 1100) only. */
    QUIET(Level.parse("1100")),
    /** No flag: warnings and worse. */
    NORMAL(Level.WARNING),
    /** -v: information too. */
    VERBOSE(Level.INFO),
    /** -v --debug: debug lines too. */
    DEBUG(Level.FINE);

    private final Level level;

    Verbosity(Level level) {
        this.level = level;
    }

    Level level() {
        return level;
    }
}
