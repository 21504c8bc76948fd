package org.flexnbd.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;

import org.junit.Test;

/** The tarball operators unpack: an entry for every folder, fixed modes, root's. */
public class TarballIT {
    private static final Path DIST = Path.of(System.getProperty("flexnbd.dist", "target/flexnbd-proxy"));

    /** Entry name to "TYPE MODE UID GID" (TYPE d or f), read with nothing but the tar header layout. */
    private static Map<String, String> entries(Path tarball) throws IOException {
        Map<String, String> entries = new TreeMap<>();
        try (InputStream in = new GZIPInputStream(Files.newInputStream(tarball));
                DataInputStream data = new DataInputStream(in)) {
            byte[] header = new byte[512];
            while (true) {
                try {
                    data.readFully(header);
                } catch (EOFException end) {
                    break;
                }
                String name = field(header, 0, 100);
                if (name.isEmpty()) {
                    break;
                }
                String prefix = field(header, 345, 155);
                String full = prefix.isEmpty() ? name : prefix + "/" + name;
                long size = Long.parseLong(field(header, 124, 12).trim(), 8);
                char type = (char) header[156];
                entries.put(full, (type == '5' ? "d " : "f ") + field(header, 100, 8).trim().replaceFirst("^0+", "")
                        + " " + Long.parseLong(field(header, 108, 8).trim(), 8) + " "
                        + Long.parseLong(field(header, 116, 8).trim(), 8));
                data.skipNBytes((size + 511) / 512 * 512);
            }
        }
        return entries;
    }

    private static String field(byte[] header, int offset, int length) {
        int end = offset;
        while (end < offset + length && header[end] != 0) {
            end++;
        }
        return new String(header, offset, end - offset, StandardCharsets.US_ASCII);
    }

    @Test
    public void everyFolderHasAnEntryAndEveryModeIsFixed() throws Exception {
        Path tarball;
        try (var files = Files.list(DIST.getParent())) {
            tarball = files.filter(p -> p.getFileName().toString().matches("flexnbd-proxy-.*\\.tar\\.gz"))
                    .findFirst().orElseThrow();
        }
        Map<String, String> entries = entries(tarball);
        for (String folder : new String[] {"flexnbd-proxy/", "flexnbd-proxy/bin/", "flexnbd-proxy/lib/",
            "flexnbd-proxy/config/", "flexnbd-proxy/bundle/", "flexnbd-proxy/deploy/"}) {
            assertEquals(folder + " in " + entries.keySet(), "d 755 0 0", entries.get(folder));
        }
        for (Map.Entry<String, String> e : entries.entrySet()) {
            String name = e.getKey();
            String expected = name.endsWith("/") ? "d 755 0 0"
                    : name.startsWith("flexnbd-proxy/bin/") || name.endsWith(".sh") ? "f 755 0 0" : "f 644 0 0";
            assertEquals(name, expected, e.getValue());
        }
        assertTrue(entries.containsKey("flexnbd-proxy/bin/flexnbd-proxy"));
        assertTrue(entries.containsKey("flexnbd-proxy/config/org.flexnbd.downstream.cfg"));
        assertFalse("no class-data archive", entries.containsKey("flexnbd-proxy/lib/flexnbd.jsa"));
    }
}
