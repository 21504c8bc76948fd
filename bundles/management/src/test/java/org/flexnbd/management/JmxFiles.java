package org.flexnbd.management;

import java.io.IOException;
import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/** Password and access files for tests (owner-only, as required), the configuration naming them, and a login. */
final class JmxFiles {
    static final String ADMIN = "admin";
    static final String ADMIN_PASSWORD = "s3cret-admin";
    static final String MONITOR = "monitor";
    static final String MONITOR_PASSWORD = "s3cret-monitor";

    final Path passwordFile;
    final Path accessFile;

    JmxFiles(Path dir) throws IOException {
        passwordFile = write(dir.resolve("jmx.password"), ADMIN + " " + ADMIN_PASSWORD + "\n" + MONITOR + " "
                + MONITOR_PASSWORD + "\n");
        accessFile = write(dir.resolve("jmx.access"), "# roles\n" + ADMIN + " readwrite\n" + MONITOR + " readonly\n");
    }

    static Path write(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    ManagementConfig config(int jmxPort) {
        return config(jmxPort, passwordFile.toString(), accessFile.toString(), 16, 60);
    }

    static ManagementConfig config(int jmxPort, String passwordFile, String accessFile, int maxConnections,
            int idleSeconds) {
        return new ManagementConfig() {
            @Override
            public int jmxPort() {
                return jmxPort;
            }

            @Override
            public String jmxPasswordFile() {
                return passwordFile;
            }

            @Override
            public String jmxAccessFile() {
                return accessFile;
            }

            @Override
            public int jmxMaxConnections() {
                return maxConnections;
            }

            @Override
            public int jmxIdleSeconds() {
                return idleSeconds;
            }

            @Override
            public Class<? extends Annotation> annotationType() {
                return ManagementConfig.class;
            }
        };
    }

    static JMXConnector login(int port, String user, String password) throws IOException {
        return JMXConnectorFactory.connect(new JMXServiceURL(LoopbackJmxConnector.url(port)),
                Map.of(JMXConnector.CREDENTIALS, new String[] {user, password}));
    }
}
