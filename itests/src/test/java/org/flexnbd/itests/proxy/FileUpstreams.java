package org.flexnbd.itests.proxy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.Peer;
import org.junit.Assume;

/**
 * Several upstream servers of one export, as a migration has them: nbdkit's file plugin on one sparse 32 MiB image,
 * in a folder of its own.
 */
final class FileUpstreams {
    private FileUpstreams() {
    }

    /** A new image; skips the test when nbdkit is not installed. */
    static Path disk(String name) throws IOException {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        Path disk = Files.createTempDirectory(name).resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(32L << 20);
        }
        return disk;
    }

    /** A server of {@code disk} on a port of its own, not yet started. */
    static Nbdkit server(Path disk) throws IOException {
        return new Nbdkit(disk.getParent(), Peer.freePort(), "-t", "1", "file", disk.toString());
    }

    /** Removes the image's folder. */
    static void delete(Path disk) throws IOException {
        try (var all = Files.walk(disk.getParent())) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
