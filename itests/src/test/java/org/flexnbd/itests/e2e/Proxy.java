package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;

/** The appliance as operators run it: the distribution's start script, as a process. */
final class Proxy implements AutoCloseable {
    static final Path SCRIPT = Path.of(System.getProperty("flexnbd.dist", "../distribution/target/flexnbd-proxy"))
            .resolve("bin/flexnbd-proxy").toAbsolutePath();

    final Peer process;
    final int port;

    private Proxy(Peer process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts the proxy listening on 127.0.0.1:port with the further flags given, and waits until it listens. */
    static Proxy start(Path dir, int port, String... flags) throws IOException, InterruptedException {
        return start(SCRIPT, dir, port, flags);
    }

    /** The same, from another installation: {@code home}, a copy of the distribution a test has changed. */
    static Proxy startIn(Path home, Path dir, int port, String... flags) throws IOException, InterruptedException {
        return start(home.resolve("bin/flexnbd-proxy"), dir, port, flags);
    }

    /** The same with these options for its JVM (JAVA_OPTS) besides the tests' own. */
    static Proxy startWithJavaOpts(Path dir, int port, String javaOpts, String... flags)
            throws IOException, InterruptedException {
        return start(SCRIPT, dir, port, java.util.Map.of("JAVA_OPTS",
                Peer.LEAK_DETECTION + " " + javaOpts), flags);
    }

    private static Proxy start(Path script, Path dir, int port, String... flags)
            throws IOException, InterruptedException {
        return start(script, dir, port, java.util.Map.of(), flags);
    }

    private static Proxy start(Path script, Path dir, int port, java.util.Map<String, String> env, String... flags)
            throws IOException, InterruptedException {
        List<String> cmd = Peer.list(script.toString(), "-l", "127.0.0.1", "-p", Integer.toString(port));
        cmd.addAll(List.of(flags));
        Proxy p = new Proxy(Peer.start(dir, "proxy", env, cmd), port);
        try {
            Peer.awaitPort(port, 20);
        } catch (AssertionError e) {
            String err = p.process.stderr();
            p.close();
            throw new AssertionError(e.getMessage() + "; proxy stderr:\n" + err);
        }
        return p;
    }

    /** Starts the proxy with exactly these arguments, without waiting for anything. */
    static Peer launch(Path dir, String... args) throws IOException {
        List<String> cmd = Peer.list(SCRIPT.toString());
        cmd.addAll(List.of(args));
        return Peer.start(dir, "proxy", cmd);
    }

    /** The same, from another installation: {@code home}, a copy of the distribution a test has changed. */
    static Peer launchIn(Path home, Path dir, String... args) throws IOException {
        List<String> cmd = Peer.list(home.resolve("bin/flexnbd-proxy").toString());
        cmd.addAll(List.of(args));
        return Peer.start(dir, "proxy", cmd);
    }

    /** Waits for a UNIX socket file to appear. */
    static void awaitSocket(Path socket, int seconds) throws InterruptedException {
        for (int i = 0; i < seconds * 20 && !Files.exists(socket); i++) {
            Thread.sleep(50);
        }
        if (!Files.exists(socket)) {
            throw new AssertionError("no socket " + socket + " after " + seconds + " s");
        }
    }

    String uri() {
        return "nbd://127.0.0.1:" + port;
    }

    /**
     * Waits, at most {@code seconds}, until what the proxy has written to stderr satisfies {@code found}; returns it as
     * it was then, or at the deadline, for the caller to assert on.
     */
    String awaitStderr(Predicate<String> found, int seconds) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        String log = stderr();
        while (!found.test(log) && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
            log = stderr();
        }
        return log;
    }

    /** Waits, 30 s at most, for the {@code n}th "listening on" of the listener component (restarts count), or fails. */
    void awaitListeners(long n) throws IOException, InterruptedException {
        java.util.regex.Pattern listening = java.util.regex.Pattern.compile("DownstreamComponent\\S+ listening on");
        String log = awaitStderr(l -> listening.matcher(l).results().count() >= n, 30);
        org.junit.Assert.assertTrue("listener " + n + " did not come\n" + log,
                listening.matcher(log).results().count() >= n);
    }

    String stderr() throws IOException {
        return process.stderr();
    }

    /** SIGTERM, then the exit status (null if it did not exit within the bound). */
    Integer terminate() throws IOException, InterruptedException {
        process.signal("TERM");
        return process.waitFor(20);
    }

    /** Stops the proxy; fails if it reported pooled payload memory that was never given back. */
    @Override
    public void close() {
        process.close();
        String err;
        try {
            err = process.stderr();
        } catch (IOException e) {
            return; // no log to check
        }
        if (err.contains("LEAK:")) {
            throw new AssertionError("the proxy leaked pooled payload memory:\n" + err);
        }
    }
}
