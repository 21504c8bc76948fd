package org.flexnbd.launcher;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class DeployMirrorTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path deploy;
    private Path outside;
    private DeployMirror mirror;

    @Before
    public void folders() throws Exception {
        deploy = tmp.newFolder("deploy").toPath();
        outside = tmp.newFolder("outside").toPath();
        Files.setPosixFilePermissions(deploy, PosixFilePermissions.fromString("rwxr-xr-x"));
        mirror = new DeployMirror(deploy, tmp.getRoot().toPath().resolve("own"));
    }

    @After
    public void stop() {
        mirror.close();
    }

    private Path jar(Path folder, String name, String content, String mode) throws Exception {
        Path p = Files.writeString(folder.resolve(name), content);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    private Path copy(String name) {
        return mirror.mirror().resolve(name);
    }

    @Test
    public void aRegularJarOnlyItsOwnerCanWriteIsCopiedAndUpdated() throws Exception {
        Path jar = jar(deploy, "a.jar", "one", "rw-r--r--");
        mirror.scan();
        assertEquals("one", Files.readString(copy("a.jar")));

        Files.writeString(jar, "two");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 2000));
        mirror.scan();
        assertEquals("two", Files.readString(copy("a.jar")));
        try (var left = Files.list(mirror.mirror())) {
            assertArrayEquals("no staged copy left behind", new Object[] { copy("a.jar") }, left.toArray());
        }
    }

    @Test
    public void aSymbolicLinkIsNotCopiedWhereverItPoints() throws Exception {
        Path target = jar(outside, "b.jar", "theirs", "rw-r--r--");
        Files.createSymbolicLink(deploy.resolve("b.jar"), target);
        Files.createSymbolicLink(deploy.resolve("c.jar"), Path.of("b.jar"));
        mirror.scan();
        assertFalse(Files.exists(copy("b.jar")));
        assertFalse(Files.exists(copy("c.jar")));
    }

    @Test
    public void aJarOthersCanWriteIsNotCopiedAndAnEarlierVersionStays() throws Exception {
        Path jar = jar(deploy, "d.jar", "good", "rw-r--r--");
        mirror.scan();
        Files.writeString(jar, "changed by anyone");
        Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-rw-rw-"));
        jar(deploy, "e.jar", "group", "rw-rw-r--");
        mirror.scan();
        assertEquals("good", Files.readString(copy("d.jar")));
        assertFalse(Files.exists(copy("e.jar")));
    }

    @Test
    public void nothingIsCopiedFromADeployFolderOthersCanWrite() throws Exception {
        jar(deploy, "f.jar", "x", "rw-r--r--");
        Files.setPosixFilePermissions(deploy, PosixFilePermissions.fromString("rwxrwxrwx"));
        mirror.scan();
        assertFalse(Files.exists(copy("f.jar")));
        Files.setPosixFilePermissions(deploy, PosixFilePermissions.fromString("rwxr-xr-x"));
        mirror.scan();
        assertTrue(Files.exists(copy("f.jar")));
    }

    @Test
    public void aJarOwnedByAnotherUserIsNotCopied() throws Exception {
        assumeTrue("only root can give a file away", "root".equals(System.getProperty("user.name")));
        Path jar = jar(deploy, "g.jar", "x", "rw-r--r--");
        UserPrincipal nobody = jar.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
        Files.setOwner(jar, nobody);
        mirror.scan();
        assertFalse(Files.exists(copy("g.jar")));
    }

    @Test
    public void aJarRemovedFromDeployIsRemovedFromTheCopy() throws Exception {
        Path jar = jar(deploy, "h.jar", "x", "rw-r--r--");
        jar(deploy, "README", "not a jar", "rw-r--r--");
        mirror.scan();
        assertTrue(Files.exists(copy("h.jar")));
        assertFalse(Files.exists(copy("README")));
        Files.delete(jar);
        mirror.scan();
        assertFalse(Files.exists(copy("h.jar")));
    }
}
