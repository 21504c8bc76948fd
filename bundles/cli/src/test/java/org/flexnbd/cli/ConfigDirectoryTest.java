package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import java.nio.file.Path;

import org.junit.Test;

/** Where the defaults are read from: flexnbd.config when set (the Debian package), else the installation's config/. */
public class ConfigDirectoryTest {
    @Test
    public void theInstallationsConfigFolderByDefault() {
        assertEquals(Path.of("/opt/flexnbd-proxy/config"), CliComponent.configDirectory(null, "/opt/flexnbd-proxy"));
        assertEquals(Path.of("/opt/flexnbd-proxy/config"), CliComponent.configDirectory(" ", "/opt/flexnbd-proxy"));
    }

    @Test
    public void aConfigFolderNamedByThePropertyWins() {
        assertEquals(Path.of("/etc/flexnbd-proxy"),
                CliComponent.configDirectory("/etc/flexnbd-proxy", "/usr/share/flexnbd-proxy"));
    }

    @Test
    public void noneWithoutEither() {
        assertNull(CliComponent.configDirectory(null, null));
    }
}
