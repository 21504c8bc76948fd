package org.flexnbd.protocol;

import java.util.Map;
import java.util.Objects;

/**
 * What a client-side handshake ended with: the export, and what was negotiated on that connection.
 *
 * @param export the export's description
 * @param oldstyle whether the server spoke the oldstyle handshake
 * @param structuredReplies whether structured replies were negotiated
 * @param metaContexts the meta contexts negotiated, by name, to the server's ids for them
 */
public record UpstreamExport(ExportInfo export, boolean oldstyle, boolean structuredReplies,
        Map<String, Integer> metaContexts) {

    public UpstreamExport {
        Objects.requireNonNull(export, "export");
        metaContexts = Map.copyOf(metaContexts);
    }

    /**
     * Whether a client negotiated against {@code this} can go on against {@code other} after a reconnect: same size,
     * flags and block sizes, at least the same features. Context ids may differ; they are mapped per connection.
     */
    public String differenceFrom(UpstreamExport other) {
        ExportInfo a = export;
        ExportInfo b = other.export;
        if (a.size() != b.size()) {
            return "size changed from " + a.size() + " to " + b.size();
        }
        if (a.transmissionFlags() != b.transmissionFlags()) {
            return String.format("transmission flags changed from 0x%04x to 0x%04x", a.transmissionFlags(),
                    b.transmissionFlags());
        }
        if (a.minBlock() != b.minBlock() || a.preferredBlock() != b.preferredBlock() || a.maxBlock() != b.maxBlock()) {
            return "block sizes changed from " + a.minBlock() + "/" + a.preferredBlock() + "/" + a.maxBlock() + " to "
                    + b.minBlock() + "/" + b.preferredBlock() + "/" + b.maxBlock();
        }
        if (structuredReplies && !other.structuredReplies) {
            return "structured replies no longer offered";
        }
        if (!other.metaContexts.keySet().containsAll(metaContexts.keySet())) {
            return "meta contexts changed from " + metaContexts.keySet() + " to " + other.metaContexts.keySet();
        }
        return null;
    }
}
