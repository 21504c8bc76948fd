package org.flexnbd.protocol;

/**
 * One message read from a server in the transmission phase: either a complete simple reply or one structured
 * chunk (a structured reply is complete with its DONE chunk).
 */
public record ReplyMessage(Reply simple, Chunk chunk) {

    public long cookie() {
        return simple != null ? simple.cookie() : chunk.cookie();
    }
}
