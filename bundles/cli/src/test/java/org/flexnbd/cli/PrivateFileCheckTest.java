package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class PrivateFileCheckTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path file(String name, String mode) throws Exception {
        Path p = Files.writeString(tmp.getRoot().toPath().resolve(name), "admin secret\n");
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    private static String problem(Path p) {
        return PrivateFileCheck.problem(p).orElse("usable");
    }

    @Test
    public void aFileOnlyItsOwnerCanReadAndWriteIsUsable() throws Exception {
        assertEquals(Optional.empty(), PrivateFileCheck.problem(file("ok", "rw-------")));
        assertEquals(Optional.empty(), PrivateFileCheck.problem(file("ro", "r--------")));
    }

    @Test
    public void filesOthersCanReadOrWriteAreRefused() throws Exception {
        for (String mode : new String[] { "rw-r-----", "rw--w----", "rw----r--", "rw-----w-" }) {
            assertTrue(mode, problem(file("f" + mode, mode)).contains("other users can read or write it"));
        }
    }

    @Test
    public void aMissingFileAFolderALinkAndARelativePathAreRefused() throws Exception {
        Path dir = tmp.getRoot().toPath();
        assertEquals("no such file", problem(dir.resolve("missing")));
        assertEquals("not a regular file", problem(tmp.newFolder("folder").toPath()));
        Path link = Files.createSymbolicLink(dir.resolve("link"), file("target", "rw-------"));
        assertTrue(problem(link).contains("symbolic link"));
        assertEquals("not an absolute path", problem(Path.of("relative")));
    }

    @Test
    public void anOversizedFileIsRefused() throws Exception {
        Path big = file("big", "rw-------");
        Files.write(big, new byte[(int) PrivateFileCheck.MAX_BYTES + 1]);
        assertTrue(problem(big).contains("larger than"));
    }

    @Test
    public void aBadFileOnTheCommandLineStopsTheStartWithStatus2NamingTheFlag() throws Exception {
        Path open = file("open", "rw-r--r--");
        ProxySettings settings = ((Outcome.Run) new ArgumentParser(Map.of()).parse("--demo", "--jmx-port", "9010",
                "--jmx-password-file", file("good", "rw-------").toString(), "--jmx-access-file", open.toString()))
                .settings();
        try {
            PrivateFileCheck.check(settings);
            fail("an access file others can read was accepted");
        } catch (StartupFailure e) {
            assertEquals(2, e.status());
            assertTrue(e.getMessage(), e.getMessage().startsWith("--jmx-access-file " + open + ": other users"));
        }
    }
}
