package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * deploy/ of a running appliance installs only regular jars that nobody but root or the proxy's user can write:
 * a symbolic link (even to a jar in a folder nobody else can write) and a group-writable jar are refused with an E
 * line naming them, and their bundle is not updated; a root-owned 0644 jar is installed as before.
 * The observable: a jar of flexnbd-demo updates the demo bundle, whose component then logs its start again.
 */
public class DeployTrustIT {
    private static final String DEMO_STARTED = "demo: in-memory upstream of";
    private static final String UPDATED = "is already installed.  Updating this bundle instead";

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    @Test
    public void linksAndJarsOthersCanWriteAreRefusedARegularJarIsInstalled() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        Path deploy = home.resolve("deploy");
        Path demoJar = home.resolve("bundle/flexnbd-demo.jar");
        Path vault = Files.createDirectory(dir.resolve("vault"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path linked = Files.copy(demoJar, vault.resolve("flexnbd-demo.jar"));
        Files.setPosixFilePermissions(linked, PosixFilePermissions.fromString("rw-r--r--"));

        try (Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "--demo", "-v")) {
            await(proxy, DEMO_STARTED, 2);

            Files.createSymbolicLink(deploy.resolve("flexnbd-demo.jar"), linked);
            Path writable = Files.copy(demoJar, deploy.resolve("demo-writable.jar"));
            Files.setPosixFilePermissions(writable, PosixFilePermissions.fromString("rw-rw-r--"));
            String link = deploy.resolve("flexnbd-demo.jar") + ": not installed: a symbolic link";
            String groupWritable = writable + ": not installed: writable by group or others";
            awaitError(proxy, link);
            awaitError(proxy, groupWritable);
            // The scan and FileInstall take about a second between them to install an accepted jar.
            Thread.sleep(3000);
            assertEquals(proxy.stderr(), 0, count(proxy.stderr(), UPDATED));
            assertEquals(proxy.stderr(), 2, count(proxy.stderr(), DEMO_STARTED));
            assertEquals("each refusal is logged once", 1, count(proxy.stderr(), link));

            Files.delete(deploy.resolve("flexnbd-demo.jar"));
            Path staged = deploy.resolve(".flexnbd-demo.jar.tmp");
            Files.copy(demoJar, staged);
            Files.setPosixFilePermissions(staged, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(staged, deploy.resolve("flexnbd-demo.jar"), StandardCopyOption.ATOMIC_MOVE);
            await(proxy, DEMO_STARTED, 3);
            assertEquals(proxy.stderr(), 1, count(proxy.stderr(), UPDATED));
        }
    }

    private static void await(Proxy proxy, String text, int times) throws Exception {
        String log = proxy.awaitStderr(l -> count(l, text) >= times, 20);
        assertEquals(log, times, count(log, text));
    }

    private static void awaitError(Proxy proxy, String text) throws Exception {
        String log = proxy.awaitStderr(l -> hasError(l, text), 20);
        assertTrue(log, hasError(log, text));
    }

    private static boolean hasError(String log, String text) {
        return log.lines().anyMatch(l -> l.startsWith("E:") && l.contains(text));
    }

    private static int count(String log, String text) {
        return (int) log.lines().filter(l -> l.contains(text)).count();
    }
}
