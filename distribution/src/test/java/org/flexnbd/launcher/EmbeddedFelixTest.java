package org.flexnbd.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class EmbeddedFelixTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void onlyTheCachesOfProcessesThatAreGoneAreRemoved() throws Exception {
        Path temp = tmp.getRoot().toPath();
        Path dead = Files.createDirectories(temp.resolve("flexnbd-felix-999999999-123/bundle1"));
        Path alive = Files.createDirectories(temp.resolve("flexnbd-felix-" + ProcessHandle.current().pid() + "-456"));
        Path other = Files.createDirectories(temp.resolve("flexnbd-felix-notapid"));
        Path someoneElses = Files.createDirectories(temp.resolve("flexnbd-felix-999999998-1"));
        Files.setOwner(someoneElses, someoneElses.getFileSystem().getUserPrincipalLookupService()
                .lookupPrincipalByName("nobody"));
        Path own = Files.createDirectories(temp.resolve("flexnbd-felix-" + ProcessHandle.current().pid() + "-7"));
        EmbeddedFelix.removeStaleCaches(own);
        assertFalse(Files.exists(dead.getParent()));
        assertTrue(Files.exists(alive));
        assertTrue(Files.exists(other));
        assertTrue("another user's folder is left alone", Files.exists(someoneElses));
    }

    @Test
    public void theFrameworkIsQuietCleanAndWatchesTheVettedDeployCopyForJarsOnly() {
        Path home = Path.of("/opt/flexnbd-proxy");
        Map<String, Object> c = EmbeddedFelix.configuration(home, Path.of("/tmp/cache"),
                Path.of("/tmp/own/deploy"));
        assertEquals("/opt/flexnbd-proxy", c.get("flexnbd.home"));
        assertEquals("onFirstInit", c.get("org.osgi.framework.storage.clean"));
        assertEquals("/tmp/cache", c.get("org.osgi.framework.storage"));
        assertEquals("/tmp/own/deploy", c.get("felix.fileinstall.dir"));
        assertEquals(".*\\.jar", c.get("felix.fileinstall.filter"));
        assertEquals("false", c.get("felix.fileinstall.enableConfigSave"));
        assertEquals("jul", c.get("felix.fileinstall.log.default"));
        assertTrue(c.get("felix.log.logger") instanceof org.flexnbd.launcher.logging.FelixLog);
    }
}
