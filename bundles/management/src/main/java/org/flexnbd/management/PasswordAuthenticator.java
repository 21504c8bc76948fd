package org.flexnbd.management;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Set;
import java.util.logging.Logger;

import javax.management.remote.JMXAuthenticator;
import javax.management.remote.JMXPrincipal;
import javax.security.auth.Subject;

/**
 * Checks a JMX client's user name and password against the password file, in the JDK's format ({@code user password}
 * lines, {@code #} comments). The file is read at every attempt, so an operator's edit (or a chmod that makes it
 * unsafe) counts at once. Every failure looks the same to the client.
 */
final class PasswordAuthenticator implements JMXAuthenticator {
    private static final Logger LOG = Logger.getLogger(PasswordAuthenticator.class.getName());

    private final Path passwordFile;

    PasswordAuthenticator(Path passwordFile) {
        this.passwordFile = passwordFile;
    }

    /** Refuses a file that is unsafe or unreadable now, so that a connector is not opened that nobody can use. */
    void check() throws IOException {
        PrivateFile.entries(passwordFile);
    }

    @Override
    public Subject authenticate(Object credentials) {
        if (!(credentials instanceof String[] pair) || pair.length != 2 || pair[0] == null || pair[1] == null) {
            throw refused("no user name and password given");
        }
        String user = pair[0];
        byte[] given = pair[1].getBytes(StandardCharsets.UTF_8);
        boolean known = false;
        boolean matches = false;
        try {
            for (String[] entry : PrivateFile.entries(passwordFile)) {
                if (entry.length >= 2 && entry[0].equals(user)) {
                    known = true;
                    // Compared in constant time: how long a refusal takes says nothing about the password.
                    matches = MessageDigest.isEqual(entry[1].getBytes(StandardCharsets.UTF_8), given);
                }
            }
        } catch (IOException e) {
            LOG.severe("JMX password file refused: " + Reasons.of(e) + "; no JMX client can log in");
            throw refused("password file unusable");
        }
        if (!known || !matches) {
            throw refused(known ? "wrong password for user '" + user + "'" : "unknown user '" + user + "'");
        }
        return new Subject(true, Set.of(new JMXPrincipal(user)), Set.of(), Set.of());
    }

    /** The client learns only that it failed; the log (I, not W: anyone local can make these) says why. */
    private static SecurityException refused(String why) {
        LOG.info("JMX authentication failed: " + why);
        return new SecurityException("Authentication failed");
    }
}
