package org.flexnbd.management;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * A file holding secrets or rights (the JMX password and access files), read only when no other user can read or
 * change it, as the JDK's own management agent insists: a password another user can read is no password, and an
 * access file another user can write hands out roles.
 */
final class PrivateFile {
    /** Larger than any sensible password or access file: a bigger one is refused rather than read into memory. */
    static final long MAX_BYTES = 64 * 1024;
    private static final Set<PosixFilePermission> OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private PrivateFile() {
    }

    /** The file's lines without comments and blank lines, each split on blanks; throws with the reason to refuse. */
    static List<String[]> entries(Path file) throws IOException {
        if (!file.isAbsolute()) {
            throw new IOException(file + ": not an absolute path");
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(file + ": not a regular file");
        }
        Set<PosixFilePermission> open = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
        open.retainAll(OTHERS);
        if (!open.isEmpty()) {
            throw new IOException(file + ": other users can read or write it (" + open
                    + "); allow its owner only (chmod 600)");
        }
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException(file + ": larger than " + MAX_BYTES + " bytes");
        }
        List<String[]> entries = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
                entries.add(t.split("\\s+"));
            }
        }
        return entries;
    }
}
