package org.flexnbd.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Whether a file can have been written by nobody but root or the proxy's own user: owned by one of them and not
 * writable by group or others. Code the proxy loads must pass, since whoever can write it runs code as the proxy.
 */
final class TrustedWriters {
    private static final int ROOT = 0;
    /** S_IWGRP | S_IWOTH. */
    private static final int WRITABLE_BY_OTHERS = 0022;

    private final int proxyUid;

    /** @param proxyUid the user the proxy runs as */
    TrustedWriters(int proxyUid) {
        this.proxyUid = proxyUid;
    }

    /** The user the proxy runs as: the owner of a file it has just created. */
    static TrustedWriters ownerOf(Path created) throws IOException {
        return new TrustedWriters((Integer) Files.getAttribute(created, "unix:uid", LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * Why a jar may not be loaded, or empty when it may: it must be a regular file itself, not a symbolic link
     * (the link's target may be anywhere, writable by anyone, and change after the check).
     */
    Optional<String> refuseJar(Path jar) throws IOException {
        Map<String, Object> a = Files.readAttributes(jar, "unix:mode,uid,isSymbolicLink,isRegularFile",
                LinkOption.NOFOLLOW_LINKS);
        if ((Boolean) a.get("isSymbolicLink")) {
            return Optional.of("a symbolic link (only regular files in deploy/ are installed)");
        }
        if (!(Boolean) a.get("isRegularFile")) {
            return Optional.of("not a regular file");
        }
        return refuseWriters(a);
    }

    /** Why nothing in this folder may be loaded (its files could be swapped), or empty; a link to it is followed. */
    Optional<String> refuseFolder(Path folder) throws IOException {
        return refuseWriters(Files.readAttributes(folder, "unix:mode,uid"));
    }

    private Optional<String> refuseWriters(Map<String, Object> a) {
        int uid = (Integer) a.get("uid");
        if (uid != ROOT && uid != proxyUid) {
            return Optional.of("owned by uid " + uid + ", neither root nor the proxy's user");
        }
        int mode = (Integer) a.get("mode");
        if ((mode & WRITABLE_BY_OTHERS) != 0) {
            return Optional.of(String.format("writable by group or others (mode %04o)", mode & 07777));
        }
        return Optional.empty();
    }
}
