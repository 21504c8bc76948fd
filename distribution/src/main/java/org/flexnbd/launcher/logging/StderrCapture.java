package org.flexnbd.launcher.logging;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.Charset;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Takes the place of System.err: whatever a library prints there (SCR's and ConfigAdmin's fallback logging, stack
 * traces) becomes debug log lines, one per line printed, so that nothing but log lines reaches stderr.
 */
final class StderrCapture extends OutputStream {
    private final Logger logger;
    private final Charset charset;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
    private final ThreadLocal<Boolean> busy = ThreadLocal.withInitial(() -> Boolean.FALSE);

    StderrCapture(Logger logger, Charset charset) {
        this.logger = logger;
        this.charset = charset;
    }

    @Override
    public synchronized void write(int b) {
        if (b == '\n') {
            emit();
        } else {
            line.write(b);
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            write(b[i]);
        }
    }

    @Override
    public synchronized void flush() {
        // Lines are logged when they end: a partial line waits for the rest.
    }

    private void emit() {
        String text = line.toString(charset).stripTrailing();
        line.reset();
        if (text.isEmpty() || busy.get()) {
            return; // nothing to say, or the logging itself printed to System.err: do not loop
        }
        busy.set(Boolean.TRUE);
        try {
            logger.log(Level.FINE, text);
        } finally {
            busy.set(Boolean.FALSE);
        }
    }
}
