package org.flexnbd.protocol;

import java.util.List;
import java.util.Objects;

/**
 * What a server offers its clients in a newstyle negotiation.
 *
 * @param export the one export (its name is also reachable as the default, empty name)
 * @param structuredReplies whether STRUCTURED_REPLY is accepted
 * @param metaContexts the meta contexts a client may select (such as "base:allocation")
 */
public record ServerOffer(ExportInfo export, boolean structuredReplies, List<String> metaContexts) {

    public ServerOffer {
        Objects.requireNonNull(export, "export");
        metaContexts = List.copyOf(metaContexts);
    }

    /** Whether a client asking for {@code name} means this export. */
    public boolean serves(String name) {
        return name.isEmpty() || name.equals(export.name());
    }

    /** The id a client sees for a context: its place in the offer, from 1. */
    public int contextId(String name) {
        return metaContexts.indexOf(name) + 1;
    }
}
