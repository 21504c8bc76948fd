package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The blocks of a PEM file ({@code -----BEGIN TYPE-----}, base64, {@code -----END TYPE-----}), decoded. */
final class PemFile {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    private static final long MAX_BYTES = 1 << 20;

    record Block(String type, byte[] der) { }

    private PemFile() {
    }

    /** Every block in {@code file}; its content is never put into a message. */
    static List<Block> read(Path file) throws IOException {
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException(file + ": over " + MAX_BYTES + " bytes, not a PEM file");
        }
        String text = Files.readString(file, StandardCharsets.US_ASCII);
        List<Block> blocks = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            try {
                blocks.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": a " + m.group(1) + " block that is not base64");
            }
        }
        if (blocks.isEmpty()) {
            throw new IOException(file + ": no PEM block in it");
        }
        return blocks;
    }
}
