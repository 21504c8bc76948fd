package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ConfigDefaultsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void aRunningAppliancesFileMustStayAndHoldASetting() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path file = dir.resolve(Pids.DOWNSTREAM + ".cfg");
        ConfigDefaults d = new ConfigDefaults(dir);
        Files.writeString(file, "tls=require\n");
        d.requireSettings(Pids.DOWNSTREAM);
        Files.writeString(file, "# only a comment\n\n");
        assertRefused(d, "holds no setting");
        Files.delete(file);
        assertRefused(d, "is gone");
    }

    private static void assertRefused(ConfigDefaults d, String why) {
        try {
            d.requireSettings(Pids.DOWNSTREAM);
            fail("accepted; expected: " + why);
        } catch (ConfigDefaults.ConfigException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(why));
        }
    }

    @Test
    public void valuesAreTypedAsTheComponentsReadThem() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Files.writeString(dir.resolve("org.flexnbd.upstream.cfg"), "# a comment\n"
                + "timeoutSeconds = 30 \nexportName=\nbind=\nreconnectMaxDelayMillis=5000\nsomethingNew=x y\n");
        Files.writeString(dir.resolve("org.flexnbd.downstream.cfg"), "bufferBytes=67108864\nhandshake=same\n");
        Files.writeString(dir.resolve("org.flexnbd.demo.cfg"), "size=1073741824\n");
        ConfigDefaults d = new ConfigDefaults(dir);
        assertEquals(Map.of("timeoutSeconds", 30, "exportName", "", "bind", "", "reconnectMaxDelayMillis", 5000,
                "somethingNew", "x y"), d.read("org.flexnbd.upstream"));
        assertEquals(Map.of("bufferBytes", 67108864L, "handshake", "same"), d.read("org.flexnbd.downstream"));
        assertEquals(Map.of("size", 1L << 30), d.read("org.flexnbd.demo"));
    }

    @Test
    public void aBooleanIsTrueOrFalseAndNothingElse() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Files.writeString(dir.resolve("org.flexnbd.downstream.cfg"), "tlsVerifyPeer = true \ntls=require\n");
        assertEquals(Map.of("tlsVerifyPeer", true, "tls", "require"), new ConfigDefaults(dir).read(Pids.DOWNSTREAM));
        for (String bad : new String[] {"ture", "yes", "1", "", "TRUE"}) {
            Files.writeString(dir.resolve("org.flexnbd.downstream.cfg"), "tlsVerifyPeer=" + bad + "\n");
            try {
                new ConfigDefaults(dir).read(Pids.DOWNSTREAM);
                fail("read tlsVerifyPeer=" + bad);
            } catch (ConfigDefaults.ConfigException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("tlsVerifyPeer must be true or false"));
            }
        }
    }

    @Test
    public void noFileNoDefaults() throws Exception {
        assertEquals(Map.of(), new ConfigDefaults(tmp.getRoot().toPath()).read("org.flexnbd.management"));
        assertEquals(Map.of(), new ConfigDefaults(null).read("org.flexnbd.management"));
    }

    @Test
    public void aWrongNumberIsReportedWithTheFileAndKey() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Files.writeString(dir.resolve("org.flexnbd.management.cfg"), "jmxPort=none\n");
        try {
            new ConfigDefaults(dir).read("org.flexnbd.management");
            fail();
        } catch (ConfigDefaults.ConfigException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("org.flexnbd.management.cfg")
                    && e.getMessage().contains("jmxPort"));
        }
    }

    @Test
    public void theDistributedFilesHoldTheDocumentedDefaults() throws Exception {
        Path config = Path.of("../../config");
        if (!Files.isDirectory(config)) {
            return; // not run from the source tree
        }
        ConfigDefaults d = new ConfigDefaults(config);
        Map<String, Object> up = d.read(Pids.UPSTREAM);
        assertEquals(30, up.get("timeoutSeconds"));
        assertEquals(15, up.get("connectTimeoutSeconds"));
        assertEquals(5000, up.get("reconnectMaxDelayMillis"));
        assertEquals("", up.get("exportName"));
        assertEquals("", up.get("bind"));
        assertEquals(1, up.get("maxClients"));
        Map<String, Object> down = d.read(Pids.DOWNSTREAM);
        assertEquals(1, down.get("maxClients"));
        assertEquals("same", down.get("handshake"));
        assertEquals(67108864L, down.get("bufferBytes"));
        assertEquals(5, down.get("drainSeconds"));
        assertEquals(0, down.get("cacheBytes"));
        assertEquals("0600", down.get("socketMode"));
        assertEquals("", down.get("socketGroup"));
        assertEquals("off", down.get("tls"));
        assertEquals("", down.get("tlsCertificates"));
        assertEquals(false, down.get("tlsVerifyPeer"));
        assertEquals("everyone may connect", "", down.get("allow"));
        assertEquals("off", up.get("tls"));
        assertEquals("", up.get("tlsCertificates"));
        assertEquals("", up.get("tlsPsk"));
        assertEquals("the file's first identity", "", up.get("tlsUsername"));
        assertEquals("", down.get("tlsPsk"));
        assertEquals(Map.of("jmxPort", 0, "jmxPasswordFile", "", "jmxAccessFile", "", "jmxMaxConnections", 16,
                "jmxIdleSeconds", 60), d.read(Pids.MANAGEMENT));
        assertEquals(Map.of("size", 1L << 30), d.read(Pids.DEMO));
    }
}
