package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import org.junit.Test;

public class ArgumentParserTest {
    private static final Map<String, String> NO_ENV = Map.of();

    private static ProxySettings run(String... args) {
        return run(NO_ENV, args);
    }

    private static ProxySettings run(Map<String, String> env, String... args) {
        Outcome o = new ArgumentParser(env).parse(args);
        if (o instanceof Outcome.Run r) {
            return r.settings();
        }
        throw new AssertionError("expected settings from " + String.join(" ", args) + ", got " + o);
    }

    private static String error(String... args) {
        return error(NO_ENV, args);
    }

    private static String error(Map<String, String> env, String... args) {
        Outcome o = new ArgumentParser(env).parse(args);
        if (o instanceof Outcome.UsageError e) {
            assertFalse("one line: " + e.message(), e.message().contains("\n"));
            assertFalse(e.message().isBlank());
            return e.message();
        }
        throw new AssertionError("expected a usage error from " + String.join(" ", args) + ", got " + o);
    }

    private static final String[] TCP = {"-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P", "4778"};

    private static String[] tcp(String... more) {
        String[] all = new String[TCP.length + more.length];
        System.arraycopy(TCP, 0, all, 0, TCP.length);
        System.arraycopy(more, 0, all, TCP.length, more.length);
        return all;
    }

    @Test
    public void theManualsExampleGivesBothEndpointsAndLeavesTheRestToTheDefaults() {
        ProxySettings s = run(TCP);
        assertEquals(new Address("127.0.0.1", 4777), s.listen());
        assertEquals(Optional.of(new Address("10.0.0.1", 4778)), s.upstream());
        assertEquals(Optional.empty(), s.bind());
        assertEquals(Optional.empty(), s.exportName());
        assertEquals(OptionalInt.empty(), s.upstreamTimeoutSeconds());
        assertEquals(OptionalInt.empty(), s.maxClients());
        assertEquals(OptionalInt.empty(), s.jmxPort());
        assertEquals(Optional.empty(), s.handshake());
        assertEquals(OptionalInt.empty(), s.cacheBytes());
        assertFalse(s.demo());
        assertEquals(Verbosity.NORMAL, s.verbosity());
    }

    @Test
    public void longFlagsAreTheSameAsShortOnes() {
        ProxySettings s = run("--addr", "::1", "--port", "1", "--conn-addr", "nbd.example", "--conn-port", "65535",
                "--bind", "10.1.1.1");
        assertEquals(new Address("::1", 1), s.listen());
        assertEquals("[::1]:1", s.listen().toString());
        assertEquals(Optional.of(new Address("nbd.example", 65535)), s.upstream());
        assertEquals(Optional.of("10.1.1.1"), s.bind());
    }

    @Test
    public void valuesMayBeAttachedWithEqualsOrDirectly() {
        ProxySettings s = run("-l127.0.0.1", "-p4777", "--conn-addr=10.0.0.1", "--conn-port=4778");
        assertEquals(new Address("127.0.0.1", 4777), s.listen());
        assertEquals(Optional.of(new Address("10.0.0.1", 4778)), s.upstream());
    }

    @Test
    public void everyOptionalFlag() {
        ProxySettings s = run(tcp("-b", "10.0.0.2", "--conn-export", "disk1", "--upstream-timeout", "7",
                "--max-clients", "4", "--jmx-port", "9010", "--jmx-password-file", "/etc/flexnbd/jmx.password",
                "--jmx-access-file", "jmx.access", "--handshake", "newstyle", "--cache=8192"));
        assertEquals(Optional.of("10.0.0.2"), s.bind());
        assertEquals(Optional.of("disk1"), s.exportName());
        assertEquals(OptionalInt.of(7), s.upstreamTimeoutSeconds());
        assertEquals(OptionalInt.of(4), s.maxClients());
        assertEquals(OptionalInt.of(9010), s.jmxPort());
        assertEquals(Optional.of("/etc/flexnbd/jmx.password"), s.jmxPasswordFile());
        assertEquals(Optional.of(java.nio.file.Path.of("jmx.access").toAbsolutePath().toString()), s.jmxAccessFile());
        assertEquals(Optional.of("newstyle"), s.handshake());
        assertEquals(OptionalInt.of(8192), s.cacheBytes());
    }

    @Test
    public void anEmptyExportNameIsAllowed() {
        assertEquals(Optional.of(""), run(tcp("--conn-export", "")).exportName());
    }

    @Test
    public void helpWinsAndListsEveryFlag() {
        for (String flag : new String[] {"-h", "--help"}) {
            Outcome o = new ArgumentParser(NO_ENV).parse(flag);
            assertTrue(o instanceof Outcome.Help);
            String usage = ((Outcome.Help) o).usage();
            for (String f : new String[] {"--addr", "--port", "--conn-addr", "--conn-port", "--bind", "--help",
                "--verbose", "--quiet", "--conn-export", "--upstream-timeout", "--max-clients", "--jmx-port",
                "--handshake", "--cache", "--debug", "--demo", "-l", "-p", "-C", "-P", "-b", "-v", "-q",
                "--jmx-password-file", "--jmx-access-file", "--socket-mode", "--socket-group", "SIGHUP", "--tls",
                "--tls-certificates", "--tls-verify-peer", "--tls-peer-names", "--allow", "--conn-tls", "--conn-tls-certificates",
                "--tls-psk", "--conn-tls-psk", "--conn-tls-username", "tls-psk-file=", "nbd://", "nbds+unix://"}) {
                assertTrue(f + " in\n" + usage, usage.contains(f));
            }
        }
        assertTrue(new ArgumentParser(NO_ENV).parse(tcp("-h")) instanceof Outcome.Help);
        assertTrue("help even when other flags are incomplete",
                new ArgumentParser(NO_ENV).parse("-l", "x", "--help") instanceof Outcome.Help);
    }

    @Test
    public void unknownFlagsAreUsageErrors() {
        assertTrue(error(tcp("--no-such-flag")).contains("--no-such-flag"));
        assertTrue(error(tcp("-x")).contains("-x"));
        assertTrue("no abbreviations", error(tcp("--verb")).contains("--verb"));
        assertTrue(error(tcp("stray")).contains("stray"));
    }

    @Test
    public void aFlagWithoutItsValueIsAUsageError() {
        assertTrue(error("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1", "-P").contains("-P/--conn-port"));
        assertTrue(error(tcp("--max-clients")).contains("--max-clients"));
    }

    @Test
    public void theListenAddressIsRequired() {
        assertTrue(error("-p", "4777", "-C", "10.0.0.1", "-P", "4778").contains("-l/--addr"));
        assertTrue(error().contains("-l/--addr"));
        assertTrue(error("-l", "", "-p", "4777", "-C", "10.0.0.1", "-P", "4778").contains("-l/--addr"));
    }

    @Test
    public void theListenPortIsRequiredWithAHostAndForbiddenWithAUnixSocket() {
        assertTrue(error("-l", "127.0.0.1", "-C", "10.0.0.1", "-P", "4778").contains("-p/--port"));
        assertTrue(error("-l", "/run/proxy.sock", "-p", "4777", "-C", "10.0.0.1", "-P", "4778")
                .contains("-p/--port"));
        ProxySettings s = run("-l", "/run/proxy.sock", "-C", "10.0.0.1", "-P", "4778");
        assertEquals(Address.unix("/run/proxy.sock"), s.listen());
        assertTrue(s.listen().isUnix());
        assertEquals("/run/proxy.sock", s.listen().toString());
    }

    @Test
    public void theUpstreamIsRequiredUnlessDemo() {
        String e = error("-l", "127.0.0.1", "-p", "4777");
        assertTrue(e, e.contains("-C/--conn-addr") && e.contains("--demo"));
        assertTrue(error("-l", "127.0.0.1", "-p", "4777", "-P", "4778").contains("-C/--conn-addr"));
    }

    @Test
    public void theUpstreamPortIsRequiredWithAHostAndForbiddenWithAUnixSocket() {
        assertTrue(error("-l", "127.0.0.1", "-p", "4777", "-C", "10.0.0.1").contains("-P/--conn-port"));
        assertTrue(error("-l", "127.0.0.1", "-p", "4777", "-C", "/tmp/x.sock", "-P", "4000")
                .contains("-P/--conn-port"));
        ProxySettings s = run("-l", "127.0.0.1", "-p", "4777", "-C", "/tmp/x.sock");
        assertEquals(Optional.of(Address.unix("/tmp/x.sock")), s.upstream());
    }

    @Test
    public void portsAreFrom1To65535() {
        for (String bad : new String[] {"0", "65536", "-1", "notaport", "", "4777x", "1e3", "99999999999"}) {
            assertTrue(bad, error("-l", "127.0.0.1", "-p", bad, "-C", "10.0.0.1", "-P", "4778")
                    .contains("-p/--port"));
            assertTrue(bad, error("-l", "127.0.0.1", "-p", "1", "-C", "10.0.0.1", "-P", bad)
                    .contains("-P/--conn-port"));
            assertTrue(bad, error(tcp("--jmx-port", bad, "--jmx-password-file", "/p")).contains("--jmx-port"));
        }
        assertEquals(OptionalInt.of(65535), run(tcp("--jmx-port", "65535", "--jmx-password-file", "/p")).jmxPort());
    }

    @Test
    public void aJmxPortWithoutAPasswordFileIsAUsageError() {
        assertEquals("--jmx-port needs --jmx-password-file", error(tcp("--jmx-port", "9010")));
        assertEquals("--jmx-port needs --jmx-password-file",
                error(tcp("--jmx-port", "9010", "--jmx-access-file", "/a")));
    }

    @Test
    public void socketModeAndGroupAreForAUnixListener() {
        ProxySettings s = run("-l", "/run/p.sock", "-C", "10.0.0.1", "-P", "4778", "--socket-mode", "0660",
                "--socket-group", "disk");
        assertEquals(Optional.of("0660"), s.socketMode());
        assertEquals(Optional.of("disk"), s.socketGroup());
        for (String bad : new String[] {"0980", "rw", "", "07777", "1"}) {
            assertTrue(bad, error("-l", "/run/p.sock", "-C", "10.0.0.1", "-P", "4778", "--socket-mode", bad)
                    .contains("--socket-mode"));
        }
        assertTrue(error(tcp("--socket-mode", "0660")).contains("UNIX socket"));
        assertTrue(error(tcp("--socket-group", "disk")).contains("UNIX socket"));
    }

    @Test
    public void numbersArePositive() {
        for (String bad : new String[] {"0", "-3", "many", "2.5", "3000000000"}) {
            assertTrue(bad, error(tcp("--upstream-timeout", bad)).contains("--upstream-timeout"));
            assertTrue(bad, error(tcp("--max-clients", bad)).contains("--max-clients"));
            assertTrue(bad, error(tcp("--cache=" + bad)).contains("--cache"));
        }
    }

    @Test
    public void theHandshakeIsOneOfThree() {
        for (String style : new String[] {"same", "newstyle", "oldstyle"}) {
            assertEquals(Optional.of(style), run(tcp("--handshake", style)).handshake());
        }
        assertTrue(error(tcp("--handshake", "fixed")).contains("--handshake"));
        assertTrue(error(tcp("--handshake", "NEWSTYLE")).contains("--handshake"));
    }

    @Test
    public void theCacheIsOffUnlessGivenWith4096BytesByDefault() {
        assertEquals(OptionalInt.empty(), run(TCP).cacheBytes());
        assertEquals(OptionalInt.of(4096), run(tcp("--cache")).cacheBytes());
        assertEquals(OptionalInt.of(4096), run(tcp("--cache", "-v")).cacheBytes());
        assertEquals(OptionalInt.of(65536), run(tcp("--cache=65536")).cacheBytes());
        assertEquals(OptionalInt.of(65536), run(tcp("--cache", "65536")).cacheBytes());
    }

    @Test
    public void verbosityTheLastOfVerboseAndQuietWins() {
        assertEquals(Verbosity.NORMAL, run(TCP).verbosity());
        assertEquals(Verbosity.VERBOSE, run(tcp("-v")).verbosity());
        assertEquals(Verbosity.QUIET, run(tcp("-q")).verbosity());
        assertEquals(Verbosity.QUIET, run(tcp("-v", "-q")).verbosity());
        assertEquals(Verbosity.VERBOSE, run(tcp("-q", "-v")).verbosity());
        assertEquals(Verbosity.VERBOSE, run(tcp("--quiet", "--verbose")).verbosity());
        assertEquals(Verbosity.QUIET, run(tcp("-v", "-q", "-v", "-q")).verbosity());
        assertEquals(Verbosity.QUIET, run(tcp("-vq")).verbosity());
        assertEquals(Verbosity.VERBOSE, run(tcp("-qv")).verbosity());
        assertEquals("-v before the other flags", Verbosity.VERBOSE, run("-q", "-v", "-l", "127.0.0.1", "-p", "1",
                "-C", "h", "-P", "2").verbosity());
    }

    @Test
    public void debugAddsDebugLinesToVerboseOnly() {
        assertEquals(Verbosity.DEBUG, run(tcp("-v", "--debug")).verbosity());
        assertEquals(Verbosity.DEBUG, run(tcp("--debug", "-v")).verbosity());
        assertEquals(Verbosity.NORMAL, run(tcp("--debug")).verbosity());
        assertEquals(Verbosity.QUIET, run(tcp("-v", "--debug", "-q")).verbosity());
    }

    @Test
    public void verbosityLevels() {
        assertEquals(1100, Verbosity.QUIET.level().intValue());
        assertEquals(java.util.logging.Level.WARNING, Verbosity.NORMAL.level());
        assertEquals(java.util.logging.Level.INFO, Verbosity.VERBOSE.level());
        assertEquals(java.util.logging.Level.FINE, Verbosity.DEBUG.level());
    }

    @Test
    public void theEnvironmentSetsTheDefaultUpstreamTimeout() {
        Map<String, String> env = Map.of("FLEXNBD_UPSTREAM_TIMEOUT", "12");
        assertEquals(OptionalInt.of(12), run(env, TCP).upstreamTimeoutSeconds());
        assertEquals("the flag wins", OptionalInt.of(5), run(env, tcp("--upstream-timeout", "5"))
                .upstreamTimeoutSeconds());
        assertEquals("blank is unset", OptionalInt.empty(), run(Map.of("FLEXNBD_UPSTREAM_TIMEOUT", " "), TCP)
                .upstreamTimeoutSeconds());
        assertEquals(" 9 ", OptionalInt.of(9), run(Map.of("FLEXNBD_UPSTREAM_TIMEOUT", " 9 "), TCP)
                .upstreamTimeoutSeconds());
        assertTrue(error(Map.of("FLEXNBD_UPSTREAM_TIMEOUT", "soon"), TCP).contains("FLEXNBD_UPSTREAM_TIMEOUT"));
        assertTrue(error(Map.of("FLEXNBD_UPSTREAM_TIMEOUT", "0"), TCP).contains("FLEXNBD_UPSTREAM_TIMEOUT"));
        assertEquals("a bad variable does not matter when the flag is given", OptionalInt.of(5),
                run(Map.of("FLEXNBD_UPSTREAM_TIMEOUT", "soon"), tcp("--upstream-timeout", "5"))
                        .upstreamTimeoutSeconds());
    }

    @Test
    public void aRepeatedFlagTakesItsLastValue() {
        ProxySettings s = run(tcp("-P", "5000", "--max-clients", "2", "--max-clients", "3"));
        assertEquals(Optional.of(new Address("10.0.0.1", 5000)), s.upstream());
        assertEquals(OptionalInt.of(3), s.maxClients());
    }

    @Test
    public void demoNeedsNoUpstreamAndListensOnTheDefaultAddress() {
        ProxySettings s = run("--demo");
        assertTrue(s.demo());
        assertEquals(Optional.empty(), s.upstream());
        assertEquals(new Address("127.0.0.1", 10809), s.listen());
        assertEquals(new Address("127.0.0.1", 4000), run("--demo", "-p", "4000").listen());
        assertEquals(new Address("0.0.0.0", 10809), run("--demo", "-l", "0.0.0.0").listen());
        assertEquals(Address.unix("/tmp/demo-proxy.sock"), run("--demo", "-l", "/tmp/demo-proxy.sock").listen());
        assertTrue(error("--demo", "-l", "/tmp/demo-proxy.sock", "-p", "4000").contains("-p/--port"));
        assertEquals(Verbosity.VERBOSE, run("--demo", "-v").verbosity());
    }

    @Test
    public void demoBringsItsOwnUpstream() {
        assertTrue(error("--demo", "-C", "10.0.0.1", "-P", "4778").contains("--demo"));
        assertTrue(error("--demo", "-C", "/tmp/x.sock").contains("-C/--conn-addr"));
        assertTrue(error("--demo", "-P", "4778").contains("-P/--conn-port"));
        assertTrue(error("--demo", "-b", "10.0.0.2").contains("-b/--bind"));
    }

    @Test
    public void aBlankBindIsAUsageError() {
        assertTrue(error(tcp("-b", " ")).contains("-b/--bind"));
    }

    private static String absolute(String path) {
        return java.nio.file.Path.of(path).toAbsolutePath().normalize().toString();
    }

    @Test
    public void withoutTlsFlagsConfigDecides() {
        ProxySettings s = run(TCP);
        assertEquals(Tls.UNSAID, s.clientTls());
        assertEquals(Tls.UNSAID, s.upstreamTls());
        assertFalse(s.tlsVerifyPeer());
        assertEquals(Optional.empty(), s.allow());
    }

    @Test
    public void clientTlsFlags() {
        ProxySettings s = run(tcp("--tls", "require", "--tls-certificates", "/etc/flexnbd/tls", "--tls-verify-peer"));
        assertEquals(new Tls(Optional.of("require"), Optional.of("/etc/flexnbd/tls")), s.clientTls());
        assertTrue(s.tlsVerifyPeer());
        assertEquals(Tls.UNSAID, s.upstreamTls());
        assertEquals(Optional.of("on"), run(tcp("--tls", "on", "--tls-certificates", "/c")).clientTls().mode());
        assertEquals(Optional.of("off"), run(tcp("--tls", "off")).clientTls().mode());
        assertEquals("certificates with TLS off are kept (config/ may switch it on)",
                new Tls(Optional.of("off"), Optional.of("/c")), run(tcp("--tls", "off", "--tls-certificates", "/c"))
                        .clientTls());
        assertEquals(Optional.of(absolute("certs")), run(tcp("--tls", "on", "--tls-certificates", "certs"))
                .clientTls().certificates());
        assertEquals(Optional.of("/etc/x"), run(tcp("--tls-certificates=/etc/a/../x")).clientTls().certificates());
    }

    @Test
    public void tlsModesAreOffOnOrRequire() {
        for (String bad : new String[] {"yes", "ON", "", "true", "required"}) {
            assertEquals("--tls must be one of off, on, require, not '" + bad + "'",
                    error(tcp("--tls", bad, "--tls-certificates", "/c")));
            assertEquals("--conn-tls must be one of off, on, require, not '" + bad + "'",
                    error(tcp("--conn-tls", bad)));
        }
        assertTrue(error(tcp("--tls")).contains("--tls needs a value"));
    }

    @Test
    public void tlsForClientsNeedsCertificates() {
        for (String mode : new String[] {"on", "require"}) {
            String e = error(tcp("--tls", mode));
            assertTrue(e, e.startsWith("--tls " + mode + " needs --tls-certificates") && e.contains("or --tls-psk"));
        }
        assertTrue(error(tcp("--tls", "on", "--tls-certificates", " ")).contains("--tls-certificates needs a folder"));
    }

    @Test
    public void verifyingPeersNeedsTlsOn() {
        assertEquals("--tls-verify-peer needs --tls on or require, not off",
                error(tcp("--tls", "off", "--tls-verify-peer")));
        assertEquals("--tls-verify-peer needs --tls on or require, not off",
                error(tcp("--tls-verify-peer", "--tls", "off", "--tls-certificates", "/c")));
        assertTrue("without --tls, config/'s tls decides (the range check refuses off)",
                run(tcp("--tls-verify-peer")).tlsVerifyPeer());
        assertTrue(error(tcp("--tls-verify-peer=yes")).contains("--tls-verify-peer"));
    }

    @Test
    public void peerNamesGoWithVerifyingPeers() {
        assertEquals(Optional.of("alice,bob"), run(tcp("--tls", "require", "--tls-certificates", "/c",
                "--tls-verify-peer", "--tls-peer-names", "alice,bob")).tlsPeerNames());
        assertEquals(Optional.empty(), run(tcp("--tls", "on", "--tls-certificates", "/c")).tlsPeerNames());
        String without = error(tcp("--tls", "require", "--tls-certificates", "/c", "--tls-peer-names", "alice"));
        assertTrue(without, without.contains("--tls-verify-peer"));
        String empty = error(tcp("--tls", "require", "--tls-certificates", "/c", "--tls-verify-peer",
                "--tls-peer-names", " "));
        assertTrue(empty, empty.contains("needs a list of names"));
    }

    @Test
    public void clientTlsWithAPreSharedKey() {
        ProxySettings s = run(tcp("--tls", "require", "--tls-psk", "/etc/flexnbd/keys.psk"));
        assertEquals(new Tls(Optional.of("require"), Optional.empty(), Optional.of("/etc/flexnbd/keys.psk"),
                Optional.empty()), s.clientTls());
        assertFalse(s.tlsVerifyPeer());
        assertEquals(Tls.UNSAID, s.upstreamTls());
        assertEquals(Optional.of(absolute("keys.psk")), run(tcp("--tls", "on", "--tls-psk", "keys.psk")).clientTls()
                .psk());
        assertEquals(Optional.of("/etc/k.psk"), run(tcp("--tls-psk=/etc/a/../k.psk")).clientTls().psk());
        assertEquals("without --tls, config/'s tls decides", Optional.empty(), run(tcp("--tls-psk", "/k"))
                .clientTls().mode());
        assertTrue(error(tcp("--tls", "on", "--tls-psk", " ")).contains("--tls-psk needs a file"));
        assertTrue(error(tcp("--tls", "on", "--tls-psk")).contains("--tls-psk needs a value"));
        assertEquals(Optional.of("require"), run("--demo", "--tls", "require", "--tls-psk", "/k").clientTls().mode());
    }

    @Test
    public void clientTlsTakesCertificatesOrAPreSharedKeyNotBoth() {
        for (String mode : new String[] {"off", "on", "require"}) {
            assertEquals("--tls-certificates and --tls-psk cannot be used together: X.509 certificates or a"
                    + " pre-shared key, not both",
                    error(tcp("--tls", mode, "--tls-certificates", "/c", "--tls-psk", "/k")));
        }
        assertTrue(error(tcp("--tls-psk", "/k", "--tls-certificates", "/c")).contains("not both"));
    }

    @Test
    public void aPreSharedKeyNeedsTlsOn() {
        assertEquals("--tls-psk needs --tls on or require, not off", error(tcp("--tls", "off", "--tls-psk", "/k")));
        assertEquals("--tls-psk needs --tls on or require, not off", error(tcp("--tls-psk", "/k", "--tls", "off")));
    }

    @Test
    public void aPreSharedKeyAuthenticatesClientsItself() {
        assertEquals("--tls-verify-peer cannot be used with --tls-psk: with a pre-shared key the key itself"
                + " authenticates the client", error(tcp("--tls", "require", "--tls-psk", "/k", "--tls-verify-peer")));
        assertTrue(error(tcp("--tls-psk", "/k", "--tls-verify-peer")).startsWith("--tls-verify-peer cannot be used"));
        assertTrue(error(tcp("--tls", "require", "--tls-psk", "/k", "--tls-verify-peer", "--tls-peer-names", "a"))
                .startsWith("--tls-verify-peer cannot be used with --tls-psk"));
        assertEquals("--tls-peer-names cannot be used with --tls-psk: with a pre-shared key the key itself"
                + " authenticates the client", error(tcp("--tls", "on", "--tls-psk", "/k", "--tls-peer-names", "a")));
    }

    @Test
    public void allowTakesTheListAsGiven() {
        assertEquals(Optional.of("127.0.0.1,10.0.0.0/8,fd00::/8,uid:0,gid:6"),
                run(tcp("--allow", "127.0.0.1,10.0.0.0/8,fd00::/8,uid:0,gid:6")).allow());
        assertEquals("the last one wins, as for every flag", Optional.of("::1"),
                run(tcp("--allow", "10.0.0.1", "--allow", "::1")).allow());
        assertTrue(error(tcp("--allow", "")).contains("--allow needs a list"));
        assertTrue(error(tcp("--allow", " ")).contains("--allow needs a list"));
    }

    @Test
    public void upstreamTlsFlags() {
        ProxySettings s = run(tcp("--conn-tls", "require", "--conn-tls-certificates", "up-certs"));
        assertEquals(new Tls(Optional.of("require"), Optional.of(absolute("up-certs"))), s.upstreamTls());
        assertEquals(Tls.UNSAID, s.clientTls());
        assertEquals("a client needs no certificates of its own", new Tls(Optional.of("on"), Optional.empty()),
                run(tcp("--conn-tls", "on")).upstreamTls());
        assertEquals(new Tls(Optional.of("require"), Optional.empty()),
                run("-l", "127.0.0.1", "-p", "1", "-C", "/run/up.sock", "--conn-tls", "require").upstreamTls());
        assertTrue(error(tcp("--conn-tls-certificates", "")).contains("--conn-tls-certificates needs a folder"));
    }

    @Test
    public void upstreamTlsWithAPreSharedKey() {
        ProxySettings s = run(tcp("--conn-tls", "require", "--conn-tls-psk", "keys.psk", "--conn-tls-username",
                "alice"));
        assertEquals(new Tls(Optional.of("require"), Optional.empty(), Optional.of(absolute("keys.psk")),
                Optional.of("alice")), s.upstreamTls());
        assertEquals(Tls.UNSAID, s.clientTls());
        assertEquals("without a user name, config/'s (by default the file's first identity)",
                new Tls(Optional.of("on"), Optional.empty(), Optional.of("/k"), Optional.empty()),
                run(tcp("--conn-tls", "on", "--conn-tls-psk", "/k")).upstreamTls());
        assertEquals("a user name alone: config/'s tlsPsk may hold the file (the range check refuses it otherwise)",
                Optional.of("bob"), run(tcp("--conn-tls-username", "bob")).upstreamTls().username());
        assertEquals(Optional.of("/k"), run("-l", "127.0.0.1", "-p", "1", "-C", "/run/up.sock", "--conn-tls",
                "require", "--conn-tls-psk", "/k").upstreamTls().psk());
        assertTrue(error(tcp("--conn-tls-psk", "")).contains("--conn-tls-psk needs a file"));
        assertTrue(error(tcp("--conn-tls-psk", "/k", "--conn-tls-username", " "))
                .contains("--conn-tls-username needs a name"));
    }

    @Test
    public void upstreamTlsTakesCertificatesOrAPreSharedKeyNotBoth() {
        assertEquals("--conn-tls-certificates and --conn-tls-psk cannot be used together: X.509 certificates or a"
                + " pre-shared key, not both",
                error(tcp("--conn-tls", "require", "--conn-tls-certificates", "/c", "--conn-tls-psk", "/k")));
        assertEquals("--conn-tls-username is the identity of a pre-shared key: it goes with --conn-tls-psk, not"
                + " --conn-tls-certificates",
                error(tcp("--conn-tls", "require", "--conn-tls-certificates", "/c", "--conn-tls-username", "a")));
    }

    @Test
    public void demoRefusesUpstreamTls() {
        assertTrue(error("--demo", "--conn-tls", "require").contains("--conn-tls cannot be used with --demo"));
        assertTrue(error("--demo", "--conn-tls-certificates", "/c").contains("--conn-tls-certificates cannot"));
        assertTrue(error("--demo", "--conn-tls-psk", "/k").contains("--conn-tls-psk cannot be used with --demo"));
        assertTrue(error("--demo", "--conn-tls-username", "a").contains("--conn-tls-username cannot"));
        assertEquals(Optional.of("require"), run("--demo", "--tls", "require", "--tls-certificates", "/c")
                .clientTls().mode());
    }

    private static final String[] LISTEN = {"-l", "127.0.0.1", "-p", "4777"};

    private static String[] listen(String... more) {
        String[] all = new String[LISTEN.length + more.length];
        System.arraycopy(LISTEN, 0, all, 0, LISTEN.length);
        System.arraycopy(more, 0, all, LISTEN.length, more.length);
        return all;
    }

    @Test
    public void anNbdUriGivesTheUpstreamItsExportAndItsTls() {
        ProxySettings s = run(listen("-C", "nbd://10.0.0.1:4778/disk%201"));
        assertEquals(Optional.of(new Address("10.0.0.1", 4778)), s.upstream());
        assertEquals(Optional.of("disk 1"), s.exportName());
        assertEquals(new Tls(Optional.of("off"), Optional.empty()), s.upstreamTls());
        s = run(listen("--conn-addr", "nbds://nbd.example"));
        assertEquals(Optional.of(new Address("nbd.example", 10809)), s.upstream());
        assertEquals(Optional.of(""), s.exportName());
        assertEquals(new Tls(Optional.of("require"), Optional.empty()), s.upstreamTls());
        s = run(listen("--conn-addr=nbds://[::1]/e?tls-certificates=up"));
        assertEquals(Optional.of(new Address("::1", 10809)), s.upstream());
        assertEquals(new Tls(Optional.of("require"), Optional.of(absolute("up"))), s.upstreamTls());
    }

    @Test
    public void anNbdUriWithAPreSharedKey() {
        ProxySettings s = run(listen("-C", "nbds://alice@10.0.0.1:4778/disk?tls-psk-file=keys.psk"));
        assertEquals(Optional.of(new Address("10.0.0.1", 4778)), s.upstream());
        assertEquals(Optional.of("disk"), s.exportName());
        assertEquals(new Tls(Optional.of("require"), Optional.empty(), Optional.of(absolute("keys.psk")),
                Optional.of("alice")), s.upstreamTls());
        assertEquals("no user name: the file's first identity, whatever config/ says",
                new Tls(Optional.of("require"), Optional.empty(), Optional.of("/k"), Optional.of("")),
                run(listen("-C", "nbds://h?tls-psk-file=/k")).upstreamTls());
        s = run(listen("-C", "nbds+unix://alice@/e?socket=/run/up.sock&tls-psk-file=/k"));
        assertEquals(Optional.of(Address.unix("/run/up.sock")), s.upstream());
        assertEquals(new Tls(Optional.of("require"), Optional.empty(), Optional.of("/k"), Optional.of("alice")),
                s.upstreamTls());
        assertTrue(error(listen("-C", "nbds://h?tls-psk-file=/k&tls-certificates=/c")).contains("not both"));
    }

    @Test
    public void unixNbdUris() {
        ProxySettings s = run(listen("-C", "nbd+unix:///foo?socket=/tmp/nbd.sock"));
        assertEquals(Optional.of(Address.unix("/tmp/nbd.sock")), s.upstream());
        assertEquals(Optional.of("foo"), s.exportName());
        assertEquals(Optional.of("off"), s.upstreamTls().mode());
        s = run(listen("-C", "nbds+unix:///?socket=nbd.sock&tls-certificates=/etc/up", "-b", "10.0.0.2"));
        assertEquals(Optional.of(Address.unix(absolute("nbd.sock"))), s.upstream());
        assertEquals(new Tls(Optional.of("require"), Optional.of("/etc/up")), s.upstreamTls());
        assertEquals(Optional.of("10.0.0.2"), s.bind());
    }

    @Test
    public void aUriAndConflictingFlagsAreAUsageError() {
        for (String[] flag : new String[][] {{"-P", "4778"}, {"--conn-port", "4778"}, {"--conn-export", "disk"},
            {"--conn-export", ""}, {"--conn-tls", "require"}, {"--conn-tls", "off"},
            {"--conn-tls-certificates", "/c"}, {"--conn-tls-psk", "/k"}, {"--conn-tls-username", "alice"}}) {
            for (String uri : new String[] {"nbd://h/disk", "nbds://h", "nbd+unix:///?socket=/s"}) {
                String e = error(listen("-C", uri, flag[0], flag[1]));
                assertTrue(e, e.startsWith("a URI and conflicting flags: -C/--conn-addr " + uri));
                assertTrue(e, e.contains(flag[0]));
            }
        }
        String e = error(listen("-C", "nbd://h", "-P", "1", "--conn-tls", "on"));
        assertTrue(e, e.contains("-P/--conn-port, --conn-tls cannot be used with it"));
        e = error(listen("-C", "nbds://alice@h?tls-psk-file=/k", "--conn-tls-psk", "/k", "--conn-tls-username",
                "alice"));
        assertTrue(e, e.contains("--conn-tls-psk, --conn-tls-username cannot be used with it"));
    }

    @Test
    public void aUriTheProxyCannotUseIsAUsageErrorSayingWhy() {
        assertTrue(error(listen("-C", "nbd+vsock:///")).contains("'nbd+vsock', which is not supported"));
        assertTrue(error(listen("-C", "nbd+ssh://host/e")).contains("'nbd+ssh', which is not supported"));
        String user = error(listen("-C", "nbds://alice@h/e"));
        assertTrue(user, user.startsWith("-C/--conn-addr nbds://alice@h/e has a user name ('alice@')")
                && user.contains("needs tls-psk-file=FILE"));
        assertTrue(error(listen("-C", "nbds://h/e?tls-verify-peer=false")).contains("'tls-verify-peer'"));
        assertTrue(error(listen("-C", "nbd+unix:///e")).contains("socket=PATH"));
        assertTrue(error(listen("-C", "nbd://h:0")).contains("port 0"));
        assertTrue(error(listen("-C", "nbd://h/a b")).contains("not a valid URI"));
        assertTrue("not a URI: a host name, as before (the connect says what is wrong)",
                run(listen("-C", "nbd:h", "-P", "1")).upstream().isPresent());
    }

    @Test
    public void demoRefusesAUriToo() {
        assertTrue(error("--demo", "-C", "nbd://h").contains("-C/--conn-addr cannot be used with --demo"));
    }

    @Test
    public void parsingHasNoStateBetweenCalls() {
        ArgumentParser p = new ArgumentParser(NO_ENV);
        assertTrue(p.parse(tcp("--no-such-flag")) instanceof Outcome.UsageError);
        assertTrue(p.parse(TCP) instanceof Outcome.Run);
        assertEquals(Verbosity.NORMAL, ((Outcome.Run) p.parse(TCP)).settings().verbosity());
    }
}
