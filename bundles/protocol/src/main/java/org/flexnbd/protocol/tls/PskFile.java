package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Pre-shared keys as psktool writes them and nbdkit, qemu and libnbd read them: one {@code identity:hexkey} per
 * line. Like a private key, the file must be its owner's alone; no key ever appears in a message.
 */
final class PskFile {
    private static final long MAX_BYTES = 1 << 20;

    private PskFile() {
    }

    /** Identity to key, in the file's order. */
    static Map<String, byte[]> read(Path file) throws IOException {
        PrivateKeyFile.checkOwnerOnly(file);
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException(file + ": over " + MAX_BYTES + " bytes, not a PSK file");
        }
        Map<String, byte[]> keys = new LinkedHashMap<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            if (line.isBlank()) {
                continue;
            }
            int colon = line.lastIndexOf(':');
            if (colon <= 0) {
                throw new IOException(file + ": line " + n + " is not identity:hexkey");
            }
            byte[] key;
            try {
                key = HexFormat.of().parseHex(line.substring(colon + 1).strip());
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": line " + n + ": the key is not hexadecimal");
            }
            if (key.length < 16) {
                throw new IOException(file + ": line " + n + ": a key of " + key.length + " bytes; at least 16");
            }
            keys.put(line.substring(0, colon), key);
        }
        if (keys.isEmpty()) {
            throw new IOException(file + ": no identity:hexkey line");
        }
        return keys;
    }
}
