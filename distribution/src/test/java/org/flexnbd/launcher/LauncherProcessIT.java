package org.flexnbd.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The built distribution's start script as a real process: help, usage errors, an unreachable upstream, signals.
 * Every process started here is stopped here (by PID, with bounded waits).
 */
public class LauncherProcessIT {
    private static final Path DIST = Path.of(System.getProperty("flexnbd.dist", "target/flexnbd-proxy"));
    private static final Pattern LOG_LINE = Pattern.compile("^[DIWEF]:\\d+ \\S+ \\S+\\.java:\\d+: .*$");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final List<Process> started = new ArrayList<>();
    private Path out;
    private Path err;

    @Before
    public void files() {
        out = tmp.getRoot().toPath().resolve("stdout");
        err = tmp.getRoot().toPath().resolve("stderr");
    }

    @After
    public void stopEverything() throws InterruptedException {
        for (Process p : started) {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private Process launch(String... args) throws IOException {
        return launchWith(null, args);
    }

    private Process launchWith(String javaOpts, String... args) throws IOException {
        Path script = DIST.resolve("bin/flexnbd-proxy");
        assertTrue("executable: " + script, Files.isExecutable(script));
        List<String> cmd = new ArrayList<>(List.of(script.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().remove("FLEXNBD_UPSTREAM_TIMEOUT");
        if (javaOpts != null) {
            pb.environment().put("JAVA_OPTS", javaOpts);
        }
        Process p = pb.start();
        started.add(p);
        return p;
    }

    private static int exitWithin(Process p, int seconds) throws InterruptedException {
        assertTrue("exited within " + seconds + " s", p.waitFor(seconds, TimeUnit.SECONDS));
        return p.exitValue();
    }

    private String stdout() throws IOException {
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    private String stderr() throws IOException {
        return Files.readString(err, StandardCharsets.UTF_8);
    }

    private void assertEveryStderrLineIsALogLine() throws IOException {
        for (String l : stderr().lines().toList()) {
            assertTrue("log line format: " + l, LOG_LINE.matcher(l).matches());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void signal(Process p, String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).start();
        assertTrue(kill.waitFor(5, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
    }

    private static void awaitPort(Process p, int port, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline && p.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new AssertionError("nothing listens on " + port + " after " + seconds + " s");
    }

    /** Waits for an I line with the text (the listener may accept before start-up has logged it). */
    private void awaitStderr(Process p, String text, int seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline && p.isAlive()) {
            if (stderr().lines().anyMatch(l -> l.startsWith("I:") && l.contains(text))) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no I line with '" + text + "' in\n" + stderr());
    }

    @Test
    public void helpPrintsTheUsageOnStdoutAndExitsZero() throws Exception {
        Process p = launch("--help");
        assertEquals(0, exitWithin(p, 30));
        String usage = stdout();
        for (String flag : new String[] {"--addr", "--port", "--conn-addr", "--conn-port", "--bind", "--help",
            "--verbose", "--quiet", "--conn-export", "--upstream-timeout", "--max-clients", "--jmx-port",
            "--handshake", "--cache", "--debug", "--demo"}) {
            assertTrue(flag + " in\n" + usage, usage.contains(flag));
        }
        assertEquals("", stderr());
    }

    @Test
    public void aCollectorChosenInJavaOptsReplacesTheScriptsOwn() throws Exception {
        // The JVM refuses to start with two collectors selected.
        Process p = launchWith("-XX:+UseParallelGC -Xmx256m", "--help");
        assertEquals(stderr(), 0, exitWithin(p, 30));
        assertTrue(stdout().contains("--conn-addr"));
    }

    @Test
    public void anUnknownFlagIsAUsageErrorWithStatusTwo() throws Exception {
        Process p = launch("-l", "127.0.0.1", "-p", "4777", "-C", "127.0.0.1", "-P", "4778", "--no-such-flag");
        assertEquals(2, exitWithin(p, 30));
        List<String> lines = stderr().lines().toList();
        assertEquals(stderr(), 1, lines.size());
        assertTrue(lines.get(0), lines.get(0).startsWith("F:") && lines.get(0).contains("--no-such-flag")
                && lines.get(0).contains("--help"));
        assertEveryStderrLineIsALogLine();
        assertEquals("", stdout());
    }

    @Test
    public void aMissingUpstreamIsAUsageErrorWithStatusTwo() throws Exception {
        Process p = launch("-l", "127.0.0.1", "-p", "4777");
        assertEquals(2, exitWithin(p, 30));
        assertTrue(stderr(), stderr().contains("-C/--conn-addr"));
        assertEveryStderrLineIsALogLine();
    }

    @Test
    public void anUnreachableUpstreamIsFatalWithStatusOne() throws Exception {
        long start = System.nanoTime();
        Process p = launch("-l", "127.0.0.1", "-p", Integer.toString(freePort()), "-C", "127.0.0.1", "-P",
                Integer.toString(freePort()));
        assertEquals(stderr(), 1, exitWithin(p, 30));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        assertTrue("gave up within about 16 s, took " + seconds, seconds <= 17);
        assertTrue(stderr(), stderr().lines().anyMatch(l -> l.startsWith("F:")
                && l.contains("cannot connect to upstream 127.0.0.1:")));
        assertEveryStderrLineIsALogLine();
    }

    @Test
    public void sigtermDuringTheStartUpConnectExitsZero() throws Exception {
        // An upstream that accepts and never says hello: start-up waits for the handshake.
        try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Process p = launch("-l", "127.0.0.1", "-p", Integer.toString(freePort()), "-C", "127.0.0.1", "-P",
                    Integer.toString(silent.getLocalPort()));
            try (Socket accepted = silent.accept()) {
                signal(p, "TERM");
                assertEquals(stderr(), 0, exitWithin(p, 20));
            }
            assertEveryStderrLineIsALogLine();
        }
    }

    @Test
    public void theDemoServesClientsAndSigintStopsItCleanly() throws Exception {
        int port = freePort();
        Process p = launch("--demo", "-p", Integer.toString(port), "-v", "--debug");
        awaitPort(p, port, 20);
        awaitStderr(p, "listening on 127.0.0.1:" + port + ", proxying to /", 10);
        assertTrue(stderr(), stderr().lines().anyMatch(l -> l.startsWith("I:")
                && l.contains("demo: in-memory upstream of")));
        signal(p, "INT");
        assertEquals(stderr(), 0, exitWithin(p, 20));
        assertEveryStderrLineIsALogLine();
        assertFalse(stderr().contains("\tat "));
    }
}
