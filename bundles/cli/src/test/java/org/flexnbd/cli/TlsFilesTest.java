package org.flexnbd.cli;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The credentials a configuration names, read before it is applied. */
public class TlsFilesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void usableKeysPassAndTlsOffReadsNothing() throws Exception {
        Path keys = keys("rw-------");
        TlsFiles.check(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsPsk", keys.toString()));
        TlsFiles.check(Pids.UPSTREAM, Map.of("tls", "on", "tlsPsk", keys.toString(), "tlsUsername", "alice"));
        TlsFiles.check(Pids.DOWNSTREAM, Map.of("tls", "off", "tlsCertificates", "/no/such/folder"));
        TlsFiles.check(Pids.MANAGEMENT, Map.of("tls", "require", "tlsCertificates", "/no/such/folder"));
    }

    @Test
    public void unusableFilesAreRefusedWithTheReason() throws Exception {
        Path empty = tmp.newFolder("empty").toPath();
        assertRefused(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsCertificates", empty.toString()), "server-");
        assertRefused(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsCertificates", "/no/such/folder"), "no/such");
        assertRefused(Pids.UPSTREAM, Map.of("tls", "require", "tlsCertificates", empty.toString()), "ca-cert.pem");
        assertRefused(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsPsk", keys("rw-r--r--").toString()), "chmod");
        assertRefused(Pids.UPSTREAM, Map.of("tls", "require", "tlsPsk", keys("rw-------").toString(), "tlsUsername",
                "mallory"), "mallory");
        assertRefused(Pids.UPSTREAM, Map.of("tls", "require", "address", "/run/nbd.sock"), "UNIX socket");
    }

    private Path keys(String mode) throws Exception {
        Path f = tmp.getRoot().toPath().resolve("keys-" + mode.replace('-', '_') + ".psk");
        Files.writeString(f, "alice:" + "0123456789abcdef".repeat(4) + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    private static void assertRefused(String pid, Map<String, Object> config, String why) {
        try {
            TlsFiles.check(pid, config);
            fail("accepted: " + config);
        } catch (ConfigDefaults.ConfigException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(why));
        }
    }
}
