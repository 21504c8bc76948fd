package org.flexnbd.launcher;

import static org.junit.Assert.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class BundleSetTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void theApplicationStartsInDependencyOrderWithTheCliLast() throws Exception {
        Path dir = tmp.getRoot().toPath();
        for (String n : List.of("flexnbd-cli", "flexnbd-upstream", "flexnbd-downstream", "flexnbd-management",
                "flexnbd-demo", "flexnbd-protocol", "zz-extra", "aa-extra", "org.apache.felix.scr", "commons-cli")) {
            Files.createFile(dir.resolve(n + ".jar"));
        }
        Files.createFile(dir.resolve("README"));
        assertEquals(List.of("flexnbd-protocol.jar", "flexnbd-demo.jar", "flexnbd-upstream.jar",
                "flexnbd-downstream.jar", "flexnbd-management.jar", "aa-extra.jar", "zz-extra.jar", "flexnbd-cli.jar"),
                BundleSet.applicationJars(dir).stream().map(p -> p.getFileName().toString()).toList());
    }
}
