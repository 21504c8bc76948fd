package org.flexnbd.protocol;

import java.util.Map;

/**
 * What a client and the server-side handshake agreed.
 *
 * @param export the export as described to the client
 * @param oldstyle whether the client got the oldstyle hello
 * @param structuredReplies whether the client negotiated structured replies
 * @param metaContexts the contexts the client selected: its id for each, to the context's name
 */
public record ClientAgreement(ExportInfo export, boolean oldstyle, boolean structuredReplies,
        Map<Integer, String> metaContexts) {

    public ClientAgreement {
        metaContexts = Map.copyOf(metaContexts);
    }
}
