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
