package org.flexnbd.cli;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ConfigRangesTest {
    private static final long PAYLOAD_MEMORY = 160L << 20;
    private final ConfigRanges ranges = new ConfigRanges(PAYLOAD_MEMORY);

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String refused(String pid, Map<String, Object> config) {
        try {
            ranges.check(pid, config);
            fail("accepted " + config);
            return null;
        } catch (ConfigDefaults.ConfigException e) {
            return e.getMessage();
        }
    }

    @Test
    public void theShippedFilesAreInRange() throws Exception {
        ConfigDefaults shipped = new ConfigDefaults(Path.of("../../config"));
        for (String pid : new String[] {Pids.UPSTREAM, Pids.DOWNSTREAM, Pids.MANAGEMENT, Pids.DEMO}) {
            Map<String, Object> c = shipped.read(pid);
            assertTrue(pid + " has a file", !c.isEmpty());
            ranges.check(pid, c);
        }
    }

    @Test
    public void theValuesSeenToBreakTheProxyAreRefused() {
        assertTrue(refused(Pids.UPSTREAM, Map.of("reconnectMaxDelayMillis", -1)).contains("reconnectMaxDelayMillis"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("timeoutSeconds", 0)).contains("timeoutSeconds=0 must be from 1"));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("bufferBytes", 10L << 30)).contains("bufferBytes"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("journalBytes", -1L)).contains("journalBytes=-1"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("journalBytes", 10L << 30)).contains("journalBytes"));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("handshake", "modern")).contains("same, newstyle, oldstyle")
                || refused(Pids.DOWNSTREAM, Map.of("handshake", "modern")).contains("must be one of"));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("socketMode", "0999")).contains("socketMode"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("exportName", "a\u001b[2Jb")).contains("control"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("typo", "1")).contains("typo=1 is not a setting"));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("allow", "10.0.0.1,".repeat(500))).contains("allow="));
        assertTrue(refused(Pids.MANAGEMENT, Map.of("jmxPort", 9010)).contains("needs jmxPasswordFile"));
        assertTrue(refused(Pids.MANAGEMENT, Map.of("jmxPort", 9010, "jmxPasswordFile", "rel"))
                .contains("absolute path"));
        Map<String, Object> ok = new HashMap<>(Map.of("jmxPort", 9010, "jmxPasswordFile", "/etc/p"));
        try {
            ranges.check(Pids.MANAGEMENT, ok);
        } catch (ConfigDefaults.ConfigException e) {
            fail(e.getMessage());
        }
    }

    private void accepted(String pid, Map<String, Object> config) {
        try {
            ranges.check(pid, config);
        } catch (ConfigDefaults.ConfigException e) {
            fail(e.getMessage());
        }
    }

    @Test
    public void tlsIsOffOnOrRequireOnBothEnds() {
        for (String pid : new String[] {Pids.UPSTREAM, Pids.DOWNSTREAM}) {
            for (String tls : new String[] {"off", "on", "require"}) {
                accepted(pid, Map.of("tls", tls, "tlsCertificates", "/etc/flexnbd/tls"));
            }
            for (String bad : new String[] {"yes", "ON", "", "required", "true"}) {
                String e = refused(pid, Map.of("tls", bad, "tlsCertificates", "/etc/flexnbd/tls"));
                assertTrue(e, e.contains("tls=" + bad + " must be one of off, on, require"));
            }
        }
    }

    @Test
    public void tlsCertificatesIsAnAbsolutePathOrEmpty() {
        for (String pid : new String[] {Pids.UPSTREAM, Pids.DOWNSTREAM}) {
            accepted(pid, Map.of("tlsCertificates", ""));
            accepted(pid, Map.of("tlsCertificates", "/etc/pki/flexnbd"));
            assertTrue(refused(pid, Map.of("tlsCertificates", "certs")).contains("tlsCertificates=certs must be an"
                    + " absolute path"));
            assertTrue(refused(pid, Map.of("tlsCertificates", "/a\nb")).contains("control"));
        }
        accepted(Pids.UPSTREAM, Map.of("tls", "require"));
    }

    @Test
    public void aTlsListenerNeedsItsCertificates() {
        for (String tls : new String[] {"on", "require"}) {
            String e = refused(Pids.DOWNSTREAM, Map.of("tls", tls));
            assertTrue(e, e.contains("tls=" + tls + " needs tlsCertificates (--tls-certificates)"));
            assertTrue(refused(Pids.DOWNSTREAM, Map.of("tls", tls, "tlsCertificates", "")).contains("needs"));
        }
        accepted(Pids.DOWNSTREAM, Map.of("tls", "off"));
        accepted(Pids.DOWNSTREAM, Map.of("tls", "off", "tlsCertificates", "/c"));
    }

    @Test
    public void verifyingPeersNeedsTls() {
        accepted(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsCertificates", "/c", "tlsVerifyPeer", true));
        accepted(Pids.DOWNSTREAM, Map.of("tls", "on", "tlsCertificates", "/c", "tlsVerifyPeer", true));
        accepted(Pids.DOWNSTREAM, Map.of("tlsVerifyPeer", false));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("tls", "off", "tlsVerifyPeer", true))
                .contains("tlsVerifyPeer=true needs tls=on or tls=require"));
        assertTrue("tls left out is off", refused(Pids.DOWNSTREAM, Map.of("tlsVerifyPeer", true))
                .contains("tlsVerifyPeer=true needs"));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("tlsVerifyPeer", "yes")).contains("must be true or false"));
        assertTrue("a downstream key only", refused(Pids.UPSTREAM, Map.of("tlsVerifyPeer", true))
                .contains("is not a setting of org.flexnbd.upstream"));
    }

    @Test
    public void tlsPskIsAnAbsolutePathOrEmptyOnBothEnds() {
        for (String pid : new String[] {Pids.UPSTREAM, Pids.DOWNSTREAM}) {
            accepted(pid, Map.of("tlsPsk", ""));
            accepted(pid, Map.of("tlsPsk", "/etc/flexnbd/keys.psk"));
            assertTrue(refused(pid, Map.of("tlsPsk", "keys.psk")).contains("tlsPsk=keys.psk must be an absolute path"));
            assertTrue(refused(pid, Map.of("tlsPsk", "/a\u0000b")).contains("control"));
        }
        accepted(Pids.UPSTREAM, Map.of("tls", "require", "tlsPsk", "/k"));
    }

    @Test
    public void aTlsListenerTakesAPreSharedKeyInsteadOfCertificates() {
        for (String tls : new String[] {"on", "require"}) {
            accepted(Pids.DOWNSTREAM, Map.of("tls", tls, "tlsPsk", "/etc/flexnbd/keys.psk"));
            accepted(Pids.DOWNSTREAM, Map.of("tls", tls, "tlsPsk", "/k", "tlsCertificates", ""));
            String e = refused(Pids.DOWNSTREAM, Map.of("tls", tls, "tlsPsk", ""));
            assertTrue(e, e.contains("tls=" + tls + " needs tlsCertificates (--tls-certificates)")
                    && e.contains("or tlsPsk (--tls-psk)"));
        }
        accepted(Pids.DOWNSTREAM, Map.of("tls", "off", "tlsPsk", "/k"));
    }

    @Test
    public void certificatesOrAPreSharedKeyNotBoth() {
        for (String tls : new String[] {"off", "on", "require"}) {
            String down = refused(Pids.DOWNSTREAM, Map.of("tls", tls, "tlsCertificates", "/c", "tlsPsk", "/k"));
            assertTrue(down, down.contains("tlsCertificates and tlsPsk (--tls-certificates, --tls-psk) are both set:"
                    + " X.509 certificates or a pre-shared key, not both"));
            String up = refused(Pids.UPSTREAM, Map.of("tls", tls, "tlsCertificates", "/c", "tlsPsk", "/k"));
            assertTrue(up, up.contains("tlsCertificates and tlsPsk (--conn-tls-certificates, --conn-tls-psk) are"
                    + " both set"));
        }
    }

    @Test
    public void aPreSharedKeyAuthenticatesClientsWithoutPeerVerification() {
        String e = refused(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsPsk", "/k", "tlsVerifyPeer", true));
        assertTrue(e, e.contains("tlsVerifyPeer=true cannot go with tlsPsk (--tls-psk)"));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("tls", "on", "tlsPsk", "/k", "tlsVerifyPeer", true,
                "tlsPeerNames", "alice")).contains("tlsVerifyPeer=true cannot go with tlsPsk"));
        accepted(Pids.DOWNSTREAM, Map.of("tls", "require", "tlsPsk", "/k", "tlsVerifyPeer", false));
    }

    @Test
    public void tlsUsernameIsTextOnTheUpstreamAndNeedsAPreSharedKey() {
        accepted(Pids.UPSTREAM, Map.of("tlsUsername", ""));
        accepted(Pids.UPSTREAM, Map.of("tlsUsername", "alice", "tlsPsk", "/k"));
        accepted(Pids.UPSTREAM, Map.of("tls", "require", "tlsUsername", "", "tlsCertificates", "/c"));
        String e = refused(Pids.UPSTREAM, Map.of("tlsUsername", "alice"));
        assertTrue(e, e.contains("tlsUsername needs tlsPsk (--conn-tls-psk)"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("tlsUsername", "alice", "tlsPsk", "")).contains("needs tlsPsk"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("tlsUsername", "a\u001bb", "tlsPsk", "/k")).contains("control"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("tlsUsername", "a".repeat(4097), "tlsPsk", "/k"))
                .contains("at most 4096"));
        assertTrue("an upstream key only", refused(Pids.DOWNSTREAM, Map.of("tlsUsername", "alice"))
                .contains("is not a setting of org.flexnbd.downstream"));
    }

    @Test
    public void theAllowListIsAtMost4096Characters() {
        accepted(Pids.DOWNSTREAM, Map.of("allow", ""));
        accepted(Pids.DOWNSTREAM, Map.of("allow", "127.0.0.1,10.0.0.0/8,::1,fd00::/8,uid:1000,gid:6"));
        accepted(Pids.DOWNSTREAM, Map.of("allow", "1".repeat(4096)));
        assertTrue(refused(Pids.DOWNSTREAM, Map.of("allow", "1".repeat(4097))).contains("at most 4096"));
        assertTrue(refused(Pids.UPSTREAM, Map.of("allow", "")).contains("is not a setting"));
    }

    @Test
    public void anOversizedFileIsRefusedUnread() throws Exception {
        Path big = tmp.getRoot().toPath().resolve(Pids.UPSTREAM + ".cfg");
        Files.write(big, new byte[(int) ConfigDefaults.MAX_BYTES + 1]);
        try {
            new ConfigDefaults(tmp.getRoot().toPath()).read(Pids.UPSTREAM);
            fail("read an oversized file");
        } catch (ConfigDefaults.ConfigException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("more than a configuration file may hold"));
        }
    }
}
