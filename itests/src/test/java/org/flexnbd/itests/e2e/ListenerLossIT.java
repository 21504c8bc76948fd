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
    /**
     * Two restarts of the listener 7 s apart, each back within its drain bound (5 s: a client's READ waits on an
     * upstream that is down): no loss, the proxy serves on. The guard's check, due 10 s after the first listener
     * went, used to find the second one gone and end the proxy (F, exit 1), journal and all (a hostile tester, at
     * the third of ten releases).
     */
    @Test
    public void twoListenerRestartsAFewSecondsApartAreNoLoss() throws Exception {
        E2E.assumeDistribution();
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("home"));
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "-v")) {
            try (ScriptedClient first = new ScriptedClient(proxy.port)) {
                assertEquals(0, first.call(ScriptedClient.read(1, 0, 4096)).error());
                up.kill9();
                first.send(ScriptedClient.read(2, 0, 4096)); // unanswered: the listener's stop waits its bound
                E2E.editConfig(home, "org.flexnbd.downstream", "clientTimeoutSeconds", 61);
                proxy.awaitListeners(2);
            }
            Thread.sleep(1500);
            try (ScriptedClient second = E2E.within(20, () -> new ScriptedClient(proxy.port))) {
                second.send(ScriptedClient.read(3, 0, 4096));
                E2E.editConfig(home, "org.flexnbd.downstream", "clientTimeoutSeconds", 62);
                proxy.awaitListeners(3);
            }
            Thread.sleep(6000); // past every check the two restarts set
            assertTrue("the proxy ended\n" + proxy.stderr(), proxy.process.isAlive());
            up.start();
            try (ScriptedClient third = E2E.within(30, () -> new ScriptedClient(proxy.port))) {
                assertEquals(0, E2E.within(30, () -> third.call(ScriptedClient.read(4, 0, 4096))).error());
            }
        }
    }
}
