package org.flexnbd.launcher.logging;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The contract's log line, exactly, through a real logger and handler. */
public class LogLineFormatterTest {
    private static final Pattern LINE = Pattern.compile("^[DIWEF]:\\d+ \\S+ \\S+\\.java:\\d+: .*$");
    private static final long PID = ProcessHandle.current().pid();

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private Logger logger;
    private StderrHandler handler;

    @Before
    public void logger() {
        logger = Logger.getLogger("test." + getClass().getName() + "." + System.nanoTime());
        logger.setUseParentHandlers(false);
        logger.setLevel(Level.ALL);
        handler = new StderrHandler(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        logger.addHandler(handler);
    }

    @After
    public void detach() {
        logger.removeHandler(handler);
    }

    private List<String> lines() {
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue("every record ends its line: " + out, out.isEmpty() || out.endsWith("\n"));
        List<String> lines = out.lines().toList();
        for (String l : lines) {
            assertTrue("format: " + l, LINE.matcher(l).matches());
        }
        return lines;
    }

    /** The line number of the statement after the one calling this. */
    private static int nextLine() {
        return new Throwable().getStackTrace()[1].getLineNumber() + 1;
    }

    @Test
    public void aLineHasLevelPidThreadCallerAndMessage() {
        int line = nextLine();
        logger.info("upstream 10.0.0.1:4777 closed; reconnecting");
        assertEquals(List.of("I:" + PID + " " + Thread.currentThread().getName().replaceAll("\\s", "_")
                + " LogLineFormatterTest.java:" + line + ": upstream 10.0.0.1:4777 closed; reconnecting"), lines());
    }

    @Test
    public void levels() {
        assertEquals('D', LogLineFormatter.letter(Level.FINEST));
        assertEquals('D', LogLineFormatter.letter(Level.FINER));
        assertEquals('D', LogLineFormatter.letter(Level.FINE));
        assertEquals('D', LogLineFormatter.letter(Level.ALL));
        assertEquals('I', LogLineFormatter.letter(Level.CONFIG));
        assertEquals('I', LogLineFormatter.letter(Level.INFO));
        assertEquals('W', LogLineFormatter.letter(Level.WARNING));
        assertEquals('E', LogLineFormatter.letter(Level.SEVERE));
        assertEquals('F', LogLineFormatter.letter(Level.parse("1100")));
        assertEquals('F', LogLineFormatter.letter(Level.OFF));
        logger.fine("d");
        logger.info("i");
        logger.warning("w");
        logger.severe("e");
        logger.log(Level.parse("1100"), "f");
        List<String> lines = lines();
        assertEquals(5, lines.size());
        assertEquals("DIWEF", lines.stream().map(l -> l.substring(0, 1)).reduce("", String::concat));
    }

    @Test
    public void theThreadNameIsOneToken() throws Exception {
        Thread t = new Thread(() -> logger.warning("from a thread"), "SCR Component Actor\t2");
        t.start();
        t.join();
        String l = lines().get(0);
        assertTrue(l, l.startsWith("W:" + PID + " SCR_Component_Actor_2 LogLineFormatterTest.java:"));
    }

    @Test
    public void anExceptionIsAppendedOnTheSameLine() {
        IOException e = new IOException("Connection refused", new IllegalStateException("cause"));
        int line = nextLine();
        logger.log(Level.SEVERE, "cannot connect", e);
        assertEquals(List.of("E:" + PID + " " + Thread.currentThread().getName().replaceAll("\\s", "_")
                + " LogLineFormatterTest.java:" + line + ": cannot connect: java.io.IOException: Connection refused"),
                lines());
    }

    @Test
    public void parametersAreFormattedAndLineBreaksFlattened() {
        logger.log(Level.WARNING, "client {0} sent {1}", new Object[] {"127.0.0.1:5000", 3});
        logger.warning("two\nlines\r\nand\rmore");
        logger.log(Level.WARNING, "bad", new IllegalArgumentException("multi\nline"));
        List<String> lines = lines();
        assertEquals(3, lines.size());
        assertTrue(lines.get(0), lines.get(0).endsWith(": client 127.0.0.1:5000 sent 3"));
        assertTrue(lines.get(1), lines.get(1).endsWith(": two lines and more"));
        assertTrue(lines.get(2), lines.get(2).endsWith(": bad: java.lang.IllegalArgumentException: multi line"));
    }

    @Test
    public void controlAndLineSeparatingCharactersFromAnyTextAreEscaped() {
        // An export name a client chose, as it would reach a message: every trick seen, and the harmless kept.
        logger.warning("export 'a\u001b[31mred\u0000nul\u2028W:1 forged\u202eevil\u007f\u0085\u2066\tx\ud800'"
                + " \u00e9t\u00e9 \u65e5\ud83d\ude00");
        List<String> lines = lines();
        assertEquals(1, lines.size());
        assertTrue(lines.get(0), lines.get(0).endsWith(": export 'a\\x1b[31mred\\x00nul\\u2028W:1 forged"
                + "\\u202eevil\\x7f\\x85\\u2066\\x09x\\ud800' \u00e9t\u00e9 \u65e5\ud83d\ude00"));
        for (char c : lines.get(0).toCharArray()) {
            assertTrue("no control character left: " + (int) c, c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f)
                    && c != '\u2028' && c != '\u2029' && c != '\u202e');
        }
    }

    @Test
    public void recordsBelowTheHandlersLevelAreDropped() {
        handler.setLevel(Level.WARNING);
        logger.info("not shown");
        assertEquals(List.of(), lines());
    }

    @Test
    public void theFrameworksLogNamesTheCallerNotTheAdapter() {
        Logger felix = Logger.getLogger("org.apache.felix.framework");
        felix.setUseParentHandlers(false);
        felix.addHandler(handler);
        try {
            FelixLog log = new FelixLog();
            int line = nextLine();
            log.log(FelixLog.LOG_ERROR, "bundle failed", new IllegalStateException("x"));
            String l = lines().get(0);
            assertTrue(l, l.startsWith("W:" + PID + " "));
            assertTrue(l, l.contains(" LogLineFormatterTest.java:" + line + ": bundle failed: "
                    + "java.lang.IllegalStateException: x"));
        } finally {
            felix.removeHandler(handler);
            felix.setUseParentHandlers(true);
        }
    }

    @Test
    public void linesPrintedToTheCapturedStderrBecomeDebugLinesOfTheirCaller() {
        PrintStream err = new PrintStream(new StderrCapture(logger, StandardCharsets.UTF_8), true,
                StandardCharsets.UTF_8);
        int line = nextLine();
        err.println("ERROR : a library's own logging");
        err.print("partial ");
        err.println("line\n");
        new IllegalStateException("trace").printStackTrace(err);
        List<String> lines = lines();
        assertTrue(lines.toString(), lines.size() >= 3);
        assertTrue(lines.get(0), lines.get(0).startsWith("D:" + PID + " "));
        assertTrue(lines.get(0), lines.get(0).endsWith(" LogLineFormatterTest.java:" + line
                + ": ERROR : a library's own logging"));
        assertTrue(lines.get(1), lines.get(1).endsWith(": partial line"));
        assertTrue(lines.get(2), lines.get(2).endsWith(": java.lang.IllegalStateException: trace"));
        assertFalse(lines.stream().anyMatch(l -> l.endsWith(": ")));
    }

    @Test
    public void withoutACallerTheRecordsSourceClassNamesTheFile() {
        LogLineFormatter f = new LogLineFormatter(42);
        LogRecord r = new LogRecord(Level.INFO, "m");
        r.setSourceClassName("org.flexnbd.upstream.UpstreamLink$Reader");
        assertEquals("I:42 main UpstreamLink.java:0: m", f.line(r, "main", new CallSite(
                CallSite.fileOf(null, r.getSourceClassName()), 0)));
        assertEquals("unknown.java", CallSite.fileOf(null, null));
        assertEquals("I:42 - X.java:7: m", f.line(r, "", new CallSite("X.java", 7)));
    }
}
