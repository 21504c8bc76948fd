package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The proxy running as root against a second local user, {@code nobody} (setpriv): the framework cache, the UNIX
 * socket, the listen path; and SIGHUP.
 */
public class LocalUserIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
        AsNobody.assume();
    }

    private Path dir() {
        return tmp.getRoot().toPath();
    }

    /** The private folders named after the process: flexnbd-felix-PID-N in the temporary folder. */
    private static List<Path> caches(long pid) throws Exception {
        try (Stream<Path> all = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return all.filter(p -> p.getFileName().toString().startsWith("flexnbd-felix-" + pid + "-"))
                    .collect(Collectors.toList());
        }
    }

    @Test
    public void anotherUserCanNeitherReadNorCreateNorSwapTheFrameworkCache() throws Exception {
        int port = Peer.freePort();
        try (Peer p = Proxy.launch(dir(), "--demo", "-p", Integer.toString(port))) {
            Peer.awaitPort(port, 20);
            List<Path> caches = caches(p.pid());
            assertEquals(caches.toString(), 1, caches.size());
            Path own = caches.get(0);
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(own,
                    LinkOption.NOFOLLOW_LINKS)));
            assertEquals("root", Files.getOwner(own, LinkOption.NOFOLLOW_LINKS).getName());
            assertTrue("the framework's storage is inside", Files.isDirectory(own.resolve("felix")));
            // What a hostile user tried: read the stored configuration, create or replace the storage folder.
            Peer tries = AsNobody.sh(dir(), "grep -r demo.sock " + own + " ; ls " + own + "/felix"
                    + " ; mkdir " + own + "/felix2 ; mv " + own + "/felix " + own + "/x ; echo DONE");
            assertTrue(tries.stdout(), tries.stdout().contains("DONE"));
            assertFalse("nobody read the configuration: " + tries.stdout(), tries.stdout().contains("demo.sock"));
            assertTrue(tries.stderr(), tries.stderr().contains("Permission denied"));
            assertFalse(Files.exists(own.resolve("felix2")));
            assertTrue(Files.isDirectory(own.resolve("felix")));
            p.signal("TERM");
            assertEquals(p.stderr(), Integer.valueOf(0), p.waitFor(20));
            assertFalse("the cache is removed at stop", Files.exists(own));
        }
    }

    @Test
    public void sighupStopsCleanlyLikeSigterm() throws Exception {
        try (ScriptedUpstream upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0)) {
            Path socket = dir().resolve("proxy.sock");
            try (Peer p = Proxy.launch(dir(), "-l", socket.toString(), "-C", "127.0.0.1", "-P",
                    Integer.toString(upstream.port()), "-v")) {
                Proxy.awaitSocket(socket, 20);
                List<Path> caches = caches(p.pid());
                p.signal("HUP");
                assertEquals(p.stderr(), Integer.valueOf(0), p.waitFor(20));
                assertTrue(p.stderr(), p.stderr().lines().anyMatch(l -> l.startsWith("I:")
                        && l.endsWith("SIGHUP: stopping")));
                assertFalse("the socket file is removed", Files.exists(socket));
                for (Path c : caches) {
                    assertFalse("the cache is removed", Files.exists(c));
                }
            }
        }
    }

    @Test
    public void theUnixSocketIsTheOwnersUnlessModeAndGroupSayOtherwise() throws Exception {
        E2E.assumeTool("socat");
        Path shared = dir().resolve("shared");
        Files.createDirectory(shared);
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(dir(), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = shared.resolve("proxy.sock");
        String connect = "echo | socat -t 2 - UNIX-CONNECT:" + socket + " >/dev/null && echo CONNECTED";
        try (Peer p = Proxy.launch(dir(), "--demo", "-l", socket.toString())) {
            Proxy.awaitSocket(socket, 20);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            Peer tries = AsNobody.sh(dir(), connect);
            assertFalse("nobody connected to a 0600 socket", tries.stdout().contains("CONNECTED"));
        }
        Files.deleteIfExists(socket); // left by the kill: the next proxy's socket is awaited
        try (Peer p = Proxy.launch(dir(), "--demo", "-l", socket.toString(), "--socket-mode", "0660",
                "--socket-group", "nogroup")) {
            Proxy.awaitSocket(socket, 20);
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            Peer tries = AsNobody.sh(dir(), connect);
            assertTrue("nobody, of group nogroup, connects: " + tries.stderr(), tries.stdout().contains("CONNECTED"));
        }
    }

    @Test
    public void aRegularFileOrAFolderAtTheListenPathIsNeverRemoved() throws Exception {
        Path file = Files.writeString(dir().resolve("not-a-socket"), "precious");
        Path folder = Files.createDirectory(dir().resolve("empty-folder"));
        for (Path path : new Path[] {file, folder}) {
            try (Peer p = Proxy.launch(dir(), "--demo", "-l", path.toString())) {
                Integer status = p.waitFor(30);
                assertNotNull(status);
                assertNotEquals(0, status.intValue());
                assertTrue(p.stderr(), p.stderr().contains("is not a socket"));
            }
        }
        assertEquals("precious", Files.readString(file));
        assertTrue(Files.isDirectory(folder));
    }
}
