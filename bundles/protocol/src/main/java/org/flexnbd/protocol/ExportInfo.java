package org.flexnbd.protocol;

import java.util.Objects;

/**
 * An export as the server describes it.
 *
 * @param name the export's name ("" for the default)
 * @param size in bytes
 * @param transmissionFlags the 16 NBD_FLAG_* transmission bits, HAS_FLAGS included
 * @param minBlock minimum block size (1 when not advertised)
 * @param preferredBlock preferred block size (4096 when not advertised)
 * @param maxBlock maximum payload ({@link Nbd#MAX_PAYLOAD} when not advertised)
 * @param description free text, "" when none
 */
public record ExportInfo(String name, long size, int transmissionFlags, int minBlock, int preferredBlock,
        int maxBlock, String description) {

    public ExportInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        if ((transmissionFlags & ~0xffff) != 0) {
            throw new IllegalArgumentException("transmission flags beyond 16 bits: " + transmissionFlags);
        }
    }

    /** An export with no block size constraints advertised. */
    public static ExportInfo of(String name, long size, int transmissionFlags) {
        return new ExportInfo(name, size, transmissionFlags, 1, 4096, Nbd.MAX_PAYLOAD, "");
    }

    public boolean hasFlag(int flag) {
        return (transmissionFlags & flag) != 0;
    }

    public ExportInfo withTransmissionFlags(int flags) {
        return new ExportInfo(name, size, flags, minBlock, preferredBlock, maxBlock, description);
    }

    public ExportInfo withName(String newName) {
        return new ExportInfo(newName, size, transmissionFlags, minBlock, preferredBlock, maxBlock, description);
    }
}
