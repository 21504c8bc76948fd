package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/** The operator's side of the authenticated JMX connector: a read-write user, its files, and a login. */
public final class JmxLogin {
    public static final String USER = "operator";
    public static final String PASSWORD = "operator-password";

    public final Path passwordFile;
    public final Path accessFile;

    /** Writes owner-only password and access files into {@code dir}. */
    public JmxLogin(Path dir) throws IOException {
        passwordFile = owned(dir.resolve("jmx.password"), USER + " " + PASSWORD + "\n");
        accessFile = owned(dir.resolve("jmx.access"), USER + " readwrite\n");
    }

    private static Path owned(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    /** The flags that open the connector on {@code port} for this user. */
    public String[] flags(int port) {
        return new String[] {"--jmx-port", Integer.toString(port), "--jmx-password-file", passwordFile.toString(),
            "--jmx-access-file", accessFile.toString()};
    }

    /**
     * Logs in on {@code port}. The RMI registry listens a moment before the connector binds {@code jmxrmi} in it,
     * so a port that answers may still say "not bound": that, and only that, is tried again for up to 10 s.
     */
    public static JMXConnector connect(int port) throws IOException {
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + port + "/jmxrmi");
        Map<String, ?> env = Map.of(JMXConnector.CREDENTIALS, new String[] {USER, PASSWORD});
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try {
                return JMXConnectorFactory.connect(url, env);
            } catch (IOException e) {
                if (!notBoundYet(e) || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for jmxrmi", e);
            }
        }
    }

    private static boolean notBoundYet(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof javax.naming.NameNotFoundException || t instanceof java.rmi.ConnectException) {
                return true;
            }
        }
        return false;
    }
}
