package org.flexnbd.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * The JMX password and access files named on the command line, checked before anything starts, as ssh refuses a
 * key file others can read: an operator who names a file expects the connector it protects, so a file that cannot
 * be used stops the start (exit 2) instead of leaving the proxy running without JMX. The management bundle applies
 * the same rule again at every login; a bad file named only in config/ is its business (logged E, no connector).
 */
final class PrivateFileCheck {
    /** The largest file management reads (its PrivateFile.MAX_BYTES). */
    static final long MAX_BYTES = 64 * 1024;
    private static final Set<PosixFilePermission> OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private PrivateFileCheck() {
    }

    /** Throws, with exit status 2 and the reason, when a JMX file given on the command line is unusable. */
    static void check(ProxySettings settings) throws StartupFailure {
        check("--jmx-password-file", settings.jmxPasswordFile());
        check("--jmx-access-file", settings.jmxAccessFile());
    }

    private static void check(String flag, Optional<String> file) throws StartupFailure {
        if (file.isPresent()) {
            Optional<String> problem = problem(Path.of(file.get()));
            if (problem.isPresent()) {
                throw new StartupFailure(Startup.EXIT_CONFIGURATION, flag + " " + file.get() + ": " + problem.get());
            }
        }
    }

    /** Why the file cannot serve as a private file, or empty when it can. */
    static Optional<String> problem(Path file) {
        if (!file.isAbsolute()) {
            return Optional.of("not an absolute path");
        }
        try {
            if (Files.isSymbolicLink(file)) {
                return Optional.of("a symbolic link; name the file itself");
            }
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                return Optional.of(Files.exists(file, LinkOption.NOFOLLOW_LINKS) ? "not a regular file"
                        : "no such file");
            }
            Set<PosixFilePermission> open = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            open.retainAll(OTHERS);
            if (!open.isEmpty()) {
                return Optional.of("other users can read or write it (" + open
                        + "); allow its owner only (chmod 600)");
            }
            if (!Files.isReadable(file)) {
                return Optional.of("the proxy cannot read it");
            }
            if (Files.size(file) > MAX_BYTES) {
                return Optional.of("larger than " + MAX_BYTES + " bytes");
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of(Startup.reason(e));
        }
    }
}
