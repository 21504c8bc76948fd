package org.flexnbd.itests.e2e;

import java.nio.file.Path;
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
        String classes = Path.of(JmxProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .toString();
        List<String> c = new ArrayList<>(List.of(java, "-cp", classes, JmxProbe.class.getName()));
        c.addAll(List.of(args));
        try (Peer p = Peer.start(dir, "jmxprobe", command(c.toArray(new String[0])))) {
            Integer status = p.waitFor(60);
            if (status == null) {
                throw new AssertionError("the JMX probe did not finish within 60 s");
            }
            String out = p.stdout().strip();
            return out.isEmpty() ? "no output: " + p.stderr() : out;
        }
    }
}
