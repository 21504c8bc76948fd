package org.flexnbd.launcher.logging;

import java.io.PrintStream;
import java.nio.charset.Charset;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/** Sets up java.util.logging for the whole process: every line on stderr in the contract's format. */
public final class Logging {
    private Logging() {
    }

    /**
     * Replaces the root logger's handlers by a {@link StderrHandler} on the real stderr, at level WARNING until the
     * command line says otherwise; turns whatever else is printed to System.err, and uncaught exceptions, into log
     * lines.
     */
    public static void install() {
        PrintStream stderr = System.err;
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        root.setLevel(Level.WARNING);
        root.addHandler(new StderrHandler(stderr));
        Charset charset = Charset.defaultCharset();
        System.setErr(new PrintStream(new StderrCapture(Logger.getLogger("stderr"), charset), true, charset));
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> Logger.getLogger("uncaught")
                .log(Level.SEVERE, "uncaught exception in thread " + thread.getName(), e));
    }
}
