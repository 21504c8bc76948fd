package org.flexnbd.launcher.logging;

import java.io.PrintStream;
import java.util.logging.ErrorManager;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * Writes each record as one {@link LogLineFormatter} line to the process's stderr and flushes it at once. It
 * formats on the logging thread (the formatter finds the caller on that thread's stack): never make it asynchronous.
 */
public final class StderrHandler extends Handler {
    private final PrintStream out;

    public StderrHandler(PrintStream out) {
        this.out = out;
        setFormatter(new LogLineFormatter());
        setLevel(Level.ALL);
    }

    @Override
    public void publish(LogRecord record) {
        if (!isLoggable(record)) {
            return;
        }
        String line;
        try {
            line = getFormatter().format(record);
        } catch (RuntimeException e) {
            reportError(null, e, ErrorManager.FORMAT_FAILURE);
            return;
        }
        synchronized (this) {
            out.print(line);
            out.flush();
        }
    }

    @Override
    public void flush() {
        out.flush();
    }

    @Override
    public void close() {
        flush();
    }
}
