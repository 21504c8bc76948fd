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
