package org.flexnbd.protocol.tls;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The one choice of credentials from a side's settings, shared by the components and the configuration check. */
public class TlsCredentialsChoiceTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void offReadsNothingWhateverTheFilesNamed() throws IOException {
        assertNull(TlsCredentials.listening(TlsMode.OFF, "/no/such", false, "", "/no/such.psk"));
        assertNull(TlsCredentials.connecting(TlsMode.OFF, "/no/such", "/no/such.psk", "bob", true));
    }

    @Test
    public void aPreSharedKeyIsReadOnEitherSide() throws IOException {
        String keys = keys().toString();
        for (TlsMode mode : List.of(TlsMode.ON, TlsMode.REQUIRE)) {
            assertNotNull(TlsCredentials.listening(mode, "", false, "", keys));
            assertNotNull(TlsCredentials.connecting(mode, "", keys, "alice", true));
        }
    }

    @Test
    public void settingsThatContradictEachOtherAreRefusedWithTheReason() throws IOException {
        String keys = keys().toString();
        assertRefused(() -> TlsCredentials.listening(TlsMode.OFF, "", true, "", ""), "tlsVerifyPeer needs TLS");
        assertRefused(() -> TlsCredentials.listening(TlsMode.ON, "/c", false, "", keys), "not both");
        assertRefused(() -> TlsCredentials.listening(TlsMode.REQUIRE, "", true, "", keys), "not both");
        assertRefused(() -> TlsCredentials.listening(TlsMode.REQUIRE, "", false, "", ""),
                "TLS require needs tlsCertificates");
        assertRefused(() -> TlsCredentials.connecting(TlsMode.ON, "/c", keys, "", false), "not both");
        assertRefused(() -> TlsCredentials.connecting(TlsMode.REQUIRE, "", "", "", true), "on a UNIX socket");
    }

    @Test
    public void unusableFilesAreRefusedWithTheFile() {
        assertRefused(() -> TlsCredentials.listening(TlsMode.ON, "/no/such/dir", false, "", ""), "/no/such/dir");
        assertRefused(() -> TlsCredentials.connecting(TlsMode.ON, "", "/no/such.psk", "", false), "/no/such.psk");
    }

    @Test
    public void peerNamesAreACommaSeparatedList() {
        assertEquals(List.of("a", "b c"), List.copyOf(TlsCredentials.names(" a ,, b c ,a")));
        assertEquals(Set.of(), TlsCredentials.names(" "));
    }

    private Path keys() throws IOException {
        Path f = tmp.getRoot().toPath().resolve("keys.psk");
        Files.writeString(f, "alice:" + "0123456789abcdef".repeat(4) + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    private interface Choice {
        TlsCredentials make() throws IOException;
    }

    private static void assertRefused(Choice choice, String why) {
        try {
            choice.make();
            fail("accepted, expected: " + why);
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(why));
        }
    }
}
