package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The listener's address rules, with real sockets and files. */
public class ListenAddressTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private ListenAddress unix(Path path, String mode, String group) {
        return new ListenAddress(path.toString(), 0, mode, group);
    }

    private void expectRefused(Path path, String kind) {
        try (ServerSocketChannel s = unix(path, "0600", "").bind()) {
            fail("bound over " + kind);
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("not a socket (" + kind + ")"));
        }
    }

    @Test
    public void aRegularFileAFolderOrALinkIsNeverRemoved() throws Exception {
        Path file = Files.writeString(tmp.getRoot().toPath().resolve("file"), "keep me");
        expectRefused(file, "a regular file");
        assertEquals("keep me", Files.readString(file));
        Path folder = Files.createDirectory(tmp.getRoot().toPath().resolve("folder"));
        expectRefused(folder, "a folder");
        assertTrue(Files.isDirectory(folder));
        Path link = Files.createSymbolicLink(tmp.getRoot().toPath().resolve("link"), file);
        expectRefused(link, "a symbolic link");
        assertTrue(Files.isSymbolicLink(link));
    }

    @Test
    public void aStaleSocketIsReplacedALiveOneIsNot() throws Exception {
        Path path = tmp.getRoot().toPath().resolve("p.sock");
        ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        old.bind(UnixDomainSocketAddress.of(path));
        try (ServerSocketChannel s = unix(path, "0600", "").bind()) {
            fail("bound over a live socket");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("in use"));
        }
        old.close(); // the file stays: stale
        assertTrue(Files.exists(path));
        try (ServerSocketChannel s = unix(path, "0600", "").bind();
                SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            assertTrue(c.isConnected());
        }
    }

    @Test
    public void theSocketHasItsModeAndGroupAndNothingElseIsLeft() throws Exception {
        Path path = tmp.getRoot().toPath().resolve("p.sock");
        try (ServerSocketChannel s = unix(path, "0660", "nogroup").bind()) {
            PosixFileAttributes a = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            assertEquals("rw-rw----", PosixFilePermissions.toString(a.permissions()));
            assertEquals("nogroup", a.group().getName());
            try (var left = Files.list(tmp.getRoot().toPath())) {
                assertEquals("only the socket in its folder", 1, left.count());
            }
        }
        Files.delete(path);
        try (ServerSocketChannel s = unix(path, "0600", "").bind()) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
        }
    }

    @Test
    public void anIpv4AddressListensOnIpv4Only() throws Exception {
        assertEquals(StandardProtocolFamily.INET, ListenAddress.family(InetAddress.getByName("0.0.0.0")));
        assertEquals(StandardProtocolFamily.INET6, ListenAddress.family(InetAddress.getByName("::")));
        try (ServerSocketChannel s = new ListenAddress("127.0.0.1", 0, "0600", "").bind()) {
            int port = ((InetSocketAddress) s.getLocalAddress()).getPort();
            String hex = String.format(Locale.ROOT, ":%04X ", port);
            assertTrue("in /proc/net/tcp", listening(Path.of("/proc/net/tcp"), hex));
            assertFalse("not in /proc/net/tcp6", listening(Path.of("/proc/net/tcp6"), hex));
        }
    }

    /** Whether the kernel's table lists a listening socket (state 0A) on that local port. */
    private static boolean listening(Path table, String hexPort) throws IOException {
        if (!Files.exists(table)) {
            return false;
        }
        for (String line : Files.readAllLines(table)) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 3 && (f[1] + " ").endsWith(hexPort) && f[3].equals("0A")) {
                return true;
            }
        }
        return false;
    }
}
