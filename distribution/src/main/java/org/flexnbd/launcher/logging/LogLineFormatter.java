package org.flexnbd.launcher.logging;

import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * The contract's log line: {@code LEVEL:PID THREAD SOURCEFILE:SOURCELINE: MSG}, one line per record. LEVEL is one
 * of D I W E F; THREAD has its blanks replaced by '_'; an attached exception is appended as ": " and its
 * toString(), never as a stack trace. Line breaks inside a message become blanks, and every other control or
 * line-separating character, from whatever text (a client's export name, a file's contents), an escape
 * ({@link SafeText}): one record is one line, and no text can forge another or drive the reader's terminal.
 */
public final class LogLineFormatter extends Formatter {
    /** Levels from this one up are fatal (F); -q shows only those. */
    public static final int FATAL = 1100;

    private final long pid;

    public LogLineFormatter() {
        this(ProcessHandle.current().pid());
    }

    LogLineFormatter(long pid) {
        this.pid = pid;
    }

    /** Formats a record being logged on the current thread (the thread name and caller are taken from it). */
    @Override
    public String format(LogRecord record) {
        return line(record, Thread.currentThread().getName(), CallSite.of(record)) + "\n";
    }

    /** The line, without its end, for a record logged on the named thread at the given place. */
    String line(LogRecord record, String thread, CallSite site) {
        StringBuilder b = new StringBuilder(128);
        b.append(letter(record.getLevel())).append(':').append(pid).append(' ').append(token(thread)).append(' ')
                .append(site.file()).append(':').append(site.line()).append(": ").append(formatMessage(record));
        Throwable thrown = record.getThrown();
        if (thrown != null) {
            b.append(": ").append(thrown);
        }
        return SafeText.of(b);
    }

    static char letter(Level level) {
        int v = level.intValue();
        if (v >= FATAL) {
            return 'F';
        }
        if (v >= Level.SEVERE.intValue()) {
            return 'E';
        }
        if (v >= Level.WARNING.intValue()) {
            return 'W';
        }
        if (v >= Level.CONFIG.intValue()) {
            return 'I';
        }
        return 'D';
    }

    /** A thread name as one token. */
    static String token(String name) {
        return name == null || name.isEmpty() ? "-" : name.replaceAll("\\s", "_");
    }
}
