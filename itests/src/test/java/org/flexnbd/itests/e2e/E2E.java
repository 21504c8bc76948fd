package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

import org.junit.Assume;

/** Small helpers the end-to-end tests share. */
final class E2E {
    private E2E() {
    }

    /**
     * The tests need the NBD tools that .ci/run installs. On a developer's machine without them they are skipped;
     * on CI (CI=true) a missing tool fails, so that a green CI never hides tests that did not run.
     */
    static void assumeTool(String tool) {
        require(tool + " is not installed", Files.isExecutable(Path.of("/usr/bin", tool))
                || Files.isExecutable(Path.of("/usr/sbin", tool)));
    }

    static void assumeDistribution() {
        require("the distribution is not built: " + Proxy.SCRIPT, Files.isExecutable(Proxy.SCRIPT));
    }

    private static void require(String why, boolean met) {
        if ("true".equals(System.getenv("CI"))) {
            org.junit.Assert.assertTrue(why, met);
        }
        Assume.assumeTrue(why, met);
    }

    /**
     * A python-libnbd client script from the tests' resources (beside this class), copied into {@code dir} to run:
     * skipped without python3 and Debian's python3-libnbd, whose nbd module it imports (nbdsh comes with it).
     */
    static Path pythonClient(String name, Path dir) throws IOException {
        assumeTool("python3");
        assumeTool("nbdsh");
        Path script = dir.resolve(name);
        try (InputStream in = E2E.class.getResourceAsStream(name)) {
            org.junit.Assert.assertTrue(name + " is not on the test class path", in != null);
            Files.copy(in, script);
        }
        return script;
    }

    /**
     * The objects of class {@code className} alive in the JVM {@code pid} after a full collection: jcmd's class
     * histogram, its output in {@code scratch} (bounded: jcmd is destroyed after 60 s).
     */
    static long liveInstances(long pid, String className, Path scratch) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Path histogram = Files.createTempFile(scratch, "histogram", ".txt");
        Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "GC.class_histogram")
                .redirectErrorStream(true).redirectOutput(histogram.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("jcmd " + pid + " GC.class_histogram did not finish within 60 s");
        }
        String out = Files.readString(histogram, StandardCharsets.UTF_8);
        if (!out.contains("java.lang.String ")) {
            throw new AssertionError("no class histogram from jcmd " + pid + ":\n" + out);
        }
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[3].equals(className)) {
                return Long.parseLong(f[1]);
            }
        }
        return 0;
    }

    /** A private copy of the distribution's tree, for tests that change its deploy/ or config/ folders. */
    static Path copyOfTheDistribution(Path to) throws IOException {
        Path from = Proxy.SCRIPT.getParent().getParent();
        try (var walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return to;
    }

    /** Something a test does over a socket, which may block. */
    interface Io<T> {
        T call() throws IOException;
    }

    /** {@code io}'s result, failing the test if it takes longer than {@code seconds} (a proxy holding a client). */
    static <T> T within(int seconds, Io<T> io) throws Exception {
        return async(io).get(seconds, TimeUnit.SECONDS);
    }

    /**
     * {@code io} on a thread of its own, for a test that does something else while it waits (an IOException
     * unchecked). Not the common pool: the calls block, and one that timed out may go on.
     */
    static <T> java.util.concurrent.CompletableFuture<T> async(Io<T> io) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return io.call();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, task -> {
            Thread t = new Thread(task, "e2e-async");
            t.setDaemon(true);
            t.start();
        });
    }

    /**
     * Sets {@code key} in an appliance's {@code config/PID.cfg} as an operator would edit it in a running one: a new
     * file, renamed over the old.
     */
    static void editConfig(Path home, String pid, String key, Object value) throws IOException {
        Path cfg = home.resolve("config/" + pid + ".cfg");
        Path staged = cfg.resolveSibling(pid + ".cfg.tmp");
        Files.writeString(staged, Files.readString(cfg).replaceAll("(?m)^" + key + "=.*$", "") + "\n" + key + "="
                + value + "\n");
        Files.move(staged, cfg, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Replaces the upstream connector of a running appliance, as an operator does by editing
     * {@code org.flexnbd.upstream.cfg} (here its {@code reconnectMaxDelayMillis}); returns once the proxy says the
     * change was applied, and fails the test after 20 s without it.
     */
    static void replaceUpstreamConnector(Path home, Proxy proxy, int maxDelayMillis) throws Exception {
        String applied = "org.flexnbd.upstream.cfg changed";
        int before = occurrences(proxy.stderr(), applied);
        editConfig(home, "org.flexnbd.upstream", "reconnectMaxDelayMillis", maxDelayMillis);
        String log = proxy.awaitStderr(l -> occurrences(l, applied) > before, 20);
        org.junit.Assert.assertTrue(log, occurrences(log, applied) > before);
    }

    private static int occurrences(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n = in.read(buf); n > 0; n = in.read(buf)) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A file of random bytes in /dev/shm (memory, so that copies measure the proxy, not the disk). */
    static Path randomFile(Path dir, String name, long bytes) throws IOException {
        Path f = dir.resolve(name);
        java.util.Random r = new java.util.Random(bytes);
        byte[] buf = new byte[1 << 20];
        try (var out = Files.newOutputStream(f)) {
            for (long left = bytes; left > 0; left -= buf.length) {
                r.nextBytes(buf);
                out.write(buf, 0, (int) Math.min(buf.length, left));
            }
        }
        return f;
    }

    /** A scratch folder in /dev/shm, removed by the caller. */
    static Path shm(String prefix) throws IOException {
        Path base = Path.of("/dev/shm");
        return Files.isDirectory(base) ? Files.createTempDirectory(base, prefix) : Files.createTempDirectory(prefix);
    }

    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
