package org.flexnbd.downstream;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The address clients connect to: TCP, or a UNIX socket whose file the proxy owns while it listens.
 * <ul>
 * <li>An IPv4 address listens on IPv4 only (Java would otherwise open an IPv6 socket, and {@code 0.0.0.0} would
 * listen on {@code [::]} too); an IPv6 one such as {@code ::} on both, as the system allows.</li>
 * <li>A UNIX socket path is taken over only from a stale socket (a socket file nobody answers on): a regular file, a
 * folder or a symbolic link there is never removed.</li>
 * <li>The socket gets its mode and group before anyone can connect: it is bound in a private folder beside its path,
 * given them, then linked into place (which fails rather than replace whatever appeared meanwhile).</li>
 * </ul>
 *
 * @param mode the UNIX socket's permissions, octal (such as "0600")
 * @param group the UNIX socket's group; empty: the proxy's
 */
record ListenAddress(String address, int port, String mode, String group) {
    private static final int FILE_TYPE = 0170000;
    private static final int SOCKET_TYPE = 0140000;

    boolean isUnix() {
        return address.startsWith("/");
    }

    ServerSocketChannel bind() throws IOException {
        if (!isUnix()) {
            InetAddress ip = InetAddress.getByName(address);
            ServerSocketChannel server = ServerSocketChannel.open(family(ip));
            server.bind(new InetSocketAddress(ip, port), 16);
            return server;
        }
        Path path = Path.of(address);
        removeStaleSocket(path);
        Path parent = path.toAbsolutePath().getParent();
        Path staging = Files.createTempDirectory(parent, ".flexnbd-");
        Path staged = staging.resolve("s");
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(staged), 16);
            PosixFileAttributeView view = Files.getFileAttributeView(staged, PosixFileAttributeView.class);
            if (!group.isBlank()) {
                GroupPrincipal g = staged.getFileSystem().getUserPrincipalLookupService()
                        .lookupPrincipalByGroupName(group);
                view.setGroup(g);
            }
            view.setPermissions(permissions(mode));
            Files.createLink(path, staged);
            return server;
        } catch (FileAlreadyExistsException e) {
            server.close();
            throw new IOException(path + " appeared while the proxy was binding: not replacing it");
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        } finally {
            Files.deleteIfExists(staged);
            Files.deleteIfExists(staging);
        }
    }

    /** The family to listen with: IPv4 only for an IPv4 address. */
    static ProtocolFamily family(InetAddress ip) {
        return ip instanceof Inet4Address ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6;
    }

    static Set<PosixFilePermission> permissions(String octal) {
        int bits = Integer.parseInt(octal, 8);
        StringBuilder rwx = new StringBuilder(9);
        for (int shift = 6; shift >= 0; shift -= 3) {
            int b = bits >> shift;
            rwx.append((b & 4) != 0 ? 'r' : '-').append((b & 2) != 0 ? 'w' : '-').append((b & 1) != 0 ? 'x' : '-');
        }
        return PosixFilePermissions.fromString(rwx.toString());
    }

    /** A socket file nobody answers on is left over from a proxy that was killed: take its place. Nothing else. */
    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int type = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & FILE_TYPE;
        if (type != SOCKET_TYPE) {
            throw new IOException(path + " exists and is not a socket (" + kind(path) + "): not removing it");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new IOException(path + " is in use by another process");
        } catch (ConnectException stale) {
            Files.deleteIfExists(path);
        }
    }

    private static String kind(Path path) {
        if (Files.isSymbolicLink(path)) {
            return "a symbolic link";
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            return "a folder";
        }
        return Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) ? "a regular file" : "not a socket";
    }

    void unbind() {
        if (isUnix()) {
            try {
                Files.deleteIfExists(Path.of(address));
            } catch (IOException ignored) {
                // the socket file is gone with the process anyway when the directory is temporary
            }
        }
    }

    @Override
    public String toString() {
        return isUnix() ? address : address + ":" + port;
    }
}
