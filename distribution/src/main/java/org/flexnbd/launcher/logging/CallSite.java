package org.flexnbd.launcher.logging;

import java.util.List;
import java.util.Set;
import java.util.logging.LogRecord;

/**
 * Where a log record was made: the source file and line of the first frame on the logging thread's stack outside
 * the logging machinery (java.util.logging, the JDK's System.Logger bridge, the classes of this package that pass
 * records on, and the log adapters of Felix and FileInstall; java.io too, for lines written to System.err). It works because the handler runs
 * synchronously on the thread that logs.
 */
public record CallSite(String file, int line) {

    /** Packages of the JDK's logging and output machinery. */
    private static final List<String> PLUMBING_PACKAGES = List.of("java.util.logging.", "sun.util.logging.",
            "jdk.internal.logger.", "java.io.", "sun.nio.cs.");
    /** Top-level classes that only pass log records on. */
    private static final Set<String> PLUMBING_CLASSES = Set.of("java.lang.System", "java.lang.Throwable",
            CallSite.class.getName(), LogLineFormatter.class.getName(), StderrHandler.class.getName(),
            StderrCapture.class.getName(), FelixLog.class.getName(), Logging.class.getName(),
            "org.apache.felix.framework.Logger", "org.apache.felix.resolver.Logger",
            "org.apache.felix.fileinstall.internal.Util");

    private static final StackWalker WALKER = StackWalker.getInstance();

    /** The caller of the logging call being handled on this thread; the record's source class when not found. */
    public static CallSite of(LogRecord record) {
        return WALKER.walk(frames -> frames.filter(f -> !isPlumbing(f.getClassName())).findFirst())
                .map(f -> new CallSite(fileOf(f.getFileName(), f.getClassName()), Math.max(0, f.getLineNumber())))
                .orElseGet(() -> new CallSite(fileOf(null, record.getSourceClassName()), 0));
    }

    static boolean isPlumbing(String className) {
        for (String prefix : PLUMBING_PACKAGES) {
            if (className.startsWith(prefix)) {
                return true;
            }
        }
        int nested = className.indexOf('$');
        return PLUMBING_CLASSES.contains(nested < 0 ? className : className.substring(0, nested));
    }

    /** The file name the class file records; else one made from the top-level class's simple name. */
    static String fileOf(String fileName, String className) {
        if (fileName != null && !fileName.isBlank()) {
            return fileName.replaceAll("\\s", "_");
        }
        if (className == null || className.isBlank()) {
            return "unknown.java";
        }
        String simple = className.substring(className.lastIndexOf('.') + 1);
        int nested = simple.indexOf('$');
        return (nested > 0 ? simple.substring(0, nested) : simple) + ".java";
    }
}
