package org.flexnbd.management;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The role of each JMX user, from the access file in the JDK's format ({@code user readonly|readwrite} lines; any
 * further words, such as the JDK's {@code create} clause, are ignored: nothing may be created remotely here). Without
 * an access file every user of the password file is read-only, so that changing the proxy is always a decision.
 */
final class AccessRoles {
    private final Path accessFile;

    /** @param accessFile the access file, or null for "everybody read-only" */
    AccessRoles(Path accessFile) {
        this.accessFile = accessFile;
    }

    /** Refuses a file that is unsafe, unreadable or has a line that is not {@code user role}. */
    void check() throws IOException {
        if (accessFile == null) {
            return;
        }
        for (String[] entry : PrivateFile.entries(accessFile)) {
            if (entry.length < 2 || Role.of(entry[1]) == null) {
                throw new IOException(accessFile + ": '" + String.join(" ", entry)
                        + "' is not 'USER readonly' or 'USER readwrite'");
            }
        }
    }

    /** The user's role, or null when the user has none (then nothing is allowed). Read at every call. */
    Role of(String user) throws IOException {
        if (accessFile == null) {
            return Role.READONLY;
        }
        Role role = null;
        for (String[] entry : PrivateFile.entries(accessFile)) {
            if (entry.length >= 2 && entry[0].equals(user)) {
                role = Role.of(entry[1]);
            }
        }
        return role;
    }
}
