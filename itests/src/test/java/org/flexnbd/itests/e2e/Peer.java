package org.flexnbd.itests.e2e;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A process a test starts and stops: stdout and stderr go to files, PATH has /usr/bin first (the NBD tools' Python
 * must be the system one), and {@link #close()} kills it by PID and waits a bounded time.
 */
public final class Peer implements AutoCloseable {
    /** Every proxy a test starts reports pooled payload memory it never released (see start). */
    static final String LEAK_DETECTION = "-Dio.netty.leakDetection.level=paranoid";

    private final Process process;
    private final Path stdout;
    private final Path stderr;
    private final String name;

    private Peer(String name, Process process, Path stdout, Path stderr) {
        this.name = name;
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    public static Peer start(Path dir, String name, String... command) throws IOException {
        return start(dir, name, Arrays.asList(command));
    }

    public static Peer start(Path dir, String name, List<String> command) throws IOException {
        return start(dir, name, java.util.Map.of(), command);
    }

    /** The same with {@code env} added to (or over) the environment. */
    public static Peer start(Path dir, String name, java.util.Map<String, String> env, List<String> command)
            throws IOException {
        Files.createDirectories(dir);
        Path out = Files.createTempFile(dir, name, ".out");
        Path err = Files.createTempFile(dir, name, ".err");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("PATH", "/usr/bin:/bin:/usr/sbin:/sbin:" + pb.environment().getOrDefault("PATH", ""));
        pb.environment().remove("FLEXNBD_UPSTREAM_TIMEOUT");
        // For the proxy's start script: pooled payload memory never released is reported (an E line, "LEAK:"),
        // which Proxy.close() turns into a failure.
        pb.environment().putIfAbsent("JAVA_OPTS", LEAK_DETECTION);
        pb.environment().putAll(env);
        return new Peer(name, pb.start(), out, err);
    }

    /** Runs a command to its end within {@code seconds}; returns its exit status (output in the files). */
    public static Peer run(Path dir, String name, int seconds, String... command) throws IOException, InterruptedException {
        Peer p = start(dir, name, command);
        if (!p.process.waitFor(seconds, TimeUnit.SECONDS)) {
            p.close();
            throw new AssertionError(name + " did not finish within " + seconds + " s: " + String.join(" ", command)
                    + "\n" + p.stderr());
        }
        return p;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public int exitStatus() {
        return process.exitValue();
    }

    public Integer waitFor(int seconds) throws InterruptedException {
        return process.waitFor(seconds, TimeUnit.SECONDS) ? process.exitValue() : null;
    }

    public String stdout() throws IOException {
        return Files.readString(stdout, StandardCharsets.UTF_8);
    }

    public String stderr() throws IOException {
        return Files.readString(stderr, StandardCharsets.UTF_8);
    }

    /** Sends a signal by PID (TERM, INT, KILL, STOP, CONT). */
    public void signal(String sig) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start().waitFor(5,
                TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return name + "[" + process.pid() + "]";
    }

    /** Waits until something accepts TCP connections on 127.0.0.1:port. */
    public static void awaitPort(int port, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new AssertionError("nothing listening on 127.0.0.1:" + port + " after " + seconds + " s");
    }

    public static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    public static List<String> list(String... parts) {
        return new ArrayList<>(Arrays.asList(parts));
    }
}
