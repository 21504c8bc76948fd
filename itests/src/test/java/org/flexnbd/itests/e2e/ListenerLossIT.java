package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * An update of flexnbd-downstream whose component never starts (here: the same bundle without its component
 * description) leaves no listener: the proxy says so (F) and exits non-zero, so that a supervisor restarts it.
 */
public class ListenerLossIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** The installed downstream bundle, same name and version, with no component in it. */
    private static void writeBrokenDownstream(Path from, Path to) throws Exception {
        try (JarInputStream in = new JarInputStream(Files.newInputStream(from))) {
            Manifest manifest = new Manifest(in.getManifest());
            manifest.getMainAttributes().remove(new Attributes.Name("Service-Component"));
            try (OutputStream file = Files.newOutputStream(to); JarOutputStream out = new JarOutputStream(file,
                    manifest)) {
                for (JarEntry e = in.getNextJarEntry(); e != null; e = in.getNextJarEntry()) {
                    if (!e.getName().startsWith("OSGI-INF/")) {
                        out.putNextEntry(new JarEntry(e.getName()));
                        in.transferTo(out);
                        out.closeEntry();
                    }
                }
            }
        }
    }

    @Test
    public void aDownstreamUpdateThatLeavesNoListenerIsFatal() throws Exception {
        E2E.assumeDistribution();
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("home"));
        int port = Peer.freePort();
        try (Proxy proxy = Proxy.startIn(home, dir, port, "--demo")) {
            Path staged = home.resolve("deploy/.flexnbd-downstream.jar.tmp");
            writeBrokenDownstream(home.resolve("bundle/flexnbd-downstream.jar"), staged);
            Files.move(staged, home.resolve("deploy/flexnbd-downstream.jar"), StandardCopyOption.ATOMIC_MOVE);
            Integer status = proxy.process.waitFor(40);
            assertEquals(proxy.stderr(), Integer.valueOf(1), status);
            assertTrue(proxy.stderr(), proxy.stderr().lines().anyMatch(l -> l.startsWith("F:")
                    && l.contains("no listener")));
        }
    }
}
