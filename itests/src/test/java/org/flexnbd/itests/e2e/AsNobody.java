package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/** Commands run as a second local user, {@code nobody}, through setpriv: the hostile local user of the tests. */
final class AsNobody {
    private AsNobody() {
    }

    static void assume() {
        E2E.assumeTool("setpriv");
    }

    /** The command, run as nobody:nogroup with no supplementary groups. */
    static List<String> command(String... command) {
        List<String> c = new ArrayList<>(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"));
        c.addAll(List.of(command));
        return c;
    }

    /** Runs {@code sh -c script} as nobody within 30 s; returns its exit status (output in the Peer's files). */
    static Peer sh(Path dir, String script) throws Exception {
        Peer p = Peer.start(dir, "nobody", command("sh", "-c", script));
        Integer status = p.waitFor(30);
        if (status == null) {
            p.close();
            throw new AssertionError("as nobody, did not finish within 30 s: " + script);
        }
        return p;
    }

    /** Runs the {@link JmxProbe} as nobody; returns what it printed. */
    static String jmx(Path dir, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path classes = probeClasses();
        List<String> c = new ArrayList<>(List.of(java, "-cp", classes.toString(), JmxProbe.class.getName()));
        c.addAll(List.of(args));
        try (Peer p = Peer.start(dir, "jmxprobe", command(c.toArray(new String[0])))) {
            Integer status = p.waitFor(60);
            if (status == null) {
                throw new AssertionError("the JMX probe did not finish within 60 s");
            }
            String out = p.stdout().strip();
            return out.isEmpty() ? "no output: " + p.stderr() : out;
        } finally {
            E2E.deleteTree(classes);
        }
    }

    /**
     * The probe's class, copied where nobody can read it: the build's own folder may lie under one only its owner
     * can enter (a clone in a private temporary folder).
     */
    private static Path probeClasses() throws IOException {
        Path root = Files.createTempDirectory("flexnbd-probe",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        String name = JmxProbe.class.getName().replace('.', '/') + ".class";
        Path target = root.resolve(name);
        for (Path d = target.getParent(); !d.equals(root); d = d.getParent()) {
            Files.createDirectories(d);
            Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        try (InputStream in = JmxProbe.class.getClassLoader().getResourceAsStream(name)) {
            Files.copy(in, target);
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-r--r--"));
        return root;
    }
}
