package org.flexnbd.management;

/** What a remote JMX user may do, as the access file says: look, or also act. */
enum Role {
    /** Attributes, MBean descriptions, notifications, and the JVM's reading operations (thread dumps). */
    READONLY,
    /** Also the proxy's operations (reconnect, retarget) and the JVM's harmless ones (gc, logger levels). */
    READWRITE;

    /** The access file's word for a role, or null when it is not one. */
    static Role of(String word) {
        return switch (word) {
            case "readonly" -> READONLY;
            case "readwrite" -> READWRITE;
            default -> null;
        };
    }
}
