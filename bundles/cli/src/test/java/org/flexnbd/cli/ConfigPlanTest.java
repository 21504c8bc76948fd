package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;

import java.nio.file.Path;
import java.util.Map;

import org.junit.Test;

public class ConfigPlanTest {
    private static ProxySettings settings(String... args) {
        return ((Outcome.Run) new ArgumentParser(Map.of()).parse(args)).settings();
    }

    @Test
    public void onlyTheEndpointsWhenNothingElseIsGiven() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778"));
        assertEquals(Map.of("address", "10.0.0.1", "port", 4778), plan.upstream(null));
        assertEquals(Map.of("address", "127.0.0.1", "port", 4777), plan.downstream());
        assertEquals(Map.of(), plan.management());
    }

    @Test
    public void everyFlagHasItsKeyWithTheTypeTheComponentsRead() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "/run/p.sock", "-C", "/run/up.sock", "-b", "10.0.0.2",
                "--conn-export", "disk", "--upstream-timeout", "9", "--max-clients", "3", "--jmx-port", "9010",
                "--handshake", "oldstyle", "--cache", "--jmx-password-file", "/p", "--jmx-access-file", "/a",
                "--socket-mode", "0660", "--socket-group", "disk"));
        assertEquals(Map.of("address", "/run/up.sock", "port", 0, "bind", "10.0.0.2", "exportName", "disk",
                "timeoutSeconds", 9, "maxClients", 3), plan.upstream(null));
        assertEquals(Map.of("address", "/run/p.sock", "port", 0, "maxClients", 3, "handshake", "oldstyle",
                "cacheBytes", 4096, "socketMode", "0660", "socketGroup", "disk"), plan.downstream());
        assertEquals(Map.of("jmxPort", 9010, "jmxPasswordFile", "/p", "jmxAccessFile", "/a"), plan.management());
    }

    @Test
    public void tlsFlagsHaveTheirKeysOnEachEnd() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778",
                "--tls", "require", "--tls-certificates", "/etc/flexnbd/tls", "--tls-verify-peer", "--allow",
                "10.0.0.0/8,uid:0", "--conn-tls", "on", "--conn-tls-certificates", "/etc/flexnbd/up"));
        assertEquals("certificates empty config/'s pre-shared key", Map.of("address", "10.0.0.1", "port", 4778,
                "tls", "on", "tlsCertificates", "/etc/flexnbd/up", "tlsPsk", "", "tlsUsername", ""),
                plan.upstream(null));
        assertEquals(Map.of("address", "127.0.0.1", "port", 4777, "tls", "require", "tlsCertificates",
                "/etc/flexnbd/tls", "tlsPsk", "", "tlsVerifyPeer", true, "allow", "10.0.0.0/8,uid:0"),
                plan.downstream());
    }

    @Test
    public void pskFlagsHaveTheirKeysAndEmptyConfigsCertificates() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778",
                "--tls", "require", "--tls-psk", "/etc/flexnbd/keys.psk", "--conn-tls", "require", "--conn-tls-psk",
                "/etc/flexnbd/up.psk", "--conn-tls-username", "alice"));
        assertEquals(Map.of("address", "10.0.0.1", "port", 4778, "tls", "require", "tlsPsk", "/etc/flexnbd/up.psk",
                "tlsCertificates", "", "tlsUsername", "alice"), plan.upstream(null));
        assertEquals(Map.of("address", "127.0.0.1", "port", 4777, "tls", "require", "tlsPsk",
                "/etc/flexnbd/keys.psk", "tlsCertificates", "", "tlsVerifyPeer", false, "tlsPeerNames", ""),
                plan.downstream());
        plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778",
                "--conn-tls-psk", "/k"));
        assertEquals("no user name: config/'s", Map.of("address", "10.0.0.1", "port", 4778, "tlsPsk", "/k",
                "tlsCertificates", ""), plan.upstream(null));
        plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778",
                "--conn-tls-username", "bob"));
        assertEquals(Map.of("address", "10.0.0.1", "port", 4778, "tlsUsername", "bob"), plan.upstream(null));
    }

    @Test
    public void theFlagsPlanPassesTheRangeCheckOverTheShippedDefaults() throws Exception {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778",
                "--tls", "on", "--tls-psk", "/k", "--conn-tls", "require", "--conn-tls-psk", "/u"));
        ConfigRanges ranges = new ConfigRanges(160L << 20);
        Map<String, Object> down = new java.util.HashMap<>(Map.of("tls", "off", "tlsCertificates", "/c",
                "tlsVerifyPeer", true, "tlsPeerNames", "x"));
        down.putAll(plan.downstream());
        ranges.check(Pids.DOWNSTREAM, down);
        Map<String, Object> up = new java.util.HashMap<>(Map.of("tlsCertificates", "/c"));
        up.putAll(plan.upstream(null));
        ranges.check(Pids.UPSTREAM, up);
    }

    @Test
    public void withoutTheBooleanFlagConfigDecidesTlsVerifyPeer() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778",
                "--tls", "on", "--tls-certificates", "/c"));
        assertEquals(Map.of("address", "127.0.0.1", "port", 4777, "tls", "on", "tlsCertificates", "/c", "tlsPsk",
                ""), plan.downstream());
    }

    @Test
    public void aUriGivesAddressPortExportAndTls() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "nbd://10.0.0.1/disk"));
        assertEquals("nbd:// says no TLS and its export, whatever config/ says",
                Map.of("address", "10.0.0.1", "port", 10809, "exportName", "disk", "tls", "off"), plan.upstream(null));
        plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "nbds://[::1]:4778"));
        assertEquals("no path: the default export",
                Map.of("address", "::1", "port", 4778, "exportName", "", "tls", "require"), plan.upstream(null));
        plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-b", "10.0.0.2", "-C",
                "nbds+unix:///e?socket=/run/up.sock&tls-certificates=/etc/flexnbd/up"));
        assertEquals(Map.of("address", "/run/up.sock", "port", 0, "bind", "10.0.0.2", "exportName", "e", "tls",
                "require", "tlsCertificates", "/etc/flexnbd/up", "tlsPsk", "", "tlsUsername", ""),
                plan.upstream(null));
    }

    @Test
    public void aUriWithAPreSharedKeyGivesItsFileAndUserName() {
        ConfigPlan plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C",
                "nbds://alice@10.0.0.1/disk?tls-psk-file=/etc/flexnbd/up.psk"));
        assertEquals(Map.of("address", "10.0.0.1", "port", 10809, "exportName", "disk", "tls", "require", "tlsPsk",
                "/etc/flexnbd/up.psk", "tlsCertificates", "", "tlsUsername", "alice"), plan.upstream(null));
        plan = new ConfigPlan(settings("-l", "127.0.0.1", "-p", "4777", "-C", "nbds://h?tls-psk-file=/k"));
        assertEquals("no user name in the URI: the file's first identity, whatever config/ says", "",
                plan.upstream(null).get("tlsUsername"));
    }

    @Test
    public void theEnvironmentsUpstreamTimeoutGoesIntoTheUpstreamConfiguration() {
        ConfigPlan plan = new ConfigPlan(((Outcome.Run) new ArgumentParser(Map.of("FLEXNBD_UPSTREAM_TIMEOUT", "44"))
                .parse("-l", "127.0.0.1", "-p", "1", "-C", "h", "-P", "2")).settings());
        assertEquals(44, plan.upstream(null).get("timeoutSeconds"));
    }

    @Test
    public void demoPointsTheUpstreamAtTheDemoSocket() {
        ConfigPlan plan = new ConfigPlan(settings("--demo"));
        Path socket = Path.of("/tmp/flexnbd-demo-1/demo.sock");
        assertEquals(Map.of("path", socket.toString()), plan.demo(socket));
        assertEquals("the demo server speaks no TLS, whatever config/ says",
                Map.of("address", socket.toString(), "port", 0, "bind", "", "tls", "off"), plan.upstream(socket));
        assertEquals(Map.of("address", "127.0.0.1", "port", 10809), plan.downstream());
    }
}
