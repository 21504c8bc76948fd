package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.util.Optional;

import org.junit.Test;

public class NbdUriTest {
    private static NbdUri parse(String text) {
        assertTrue(text, NbdUri.looksLikeUri(text));
        try {
            return NbdUri.parse(text);
        } catch (NbdUri.Invalid e) {
            throw new AssertionError(text + ": " + e.getMessage());
        }
    }

    private static String refused(String text) {
        try {
            NbdUri uri = NbdUri.parse(text);
            fail("accepted " + text + " as " + uri);
            return null;
        } catch (NbdUri.Invalid e) {
            assertFalse("one line: " + e.getMessage(), e.getMessage().contains("\n"));
            return e.getMessage();
        }
    }

    private static NbdUri tcp(String host, int port, String export, String tls) {
        return new NbdUri(host, port, "", export, tls, Optional.empty(), Optional.empty(), Optional.empty());
    }

    private static NbdUri unix(String socket, String export, String tls, Optional<String> certificates) {
        return new NbdUri("", 0, socket, export, tls, certificates, Optional.empty(), Optional.empty());
    }

    @Test
    public void nbdIsTcpWithoutTlsOnTheDefaultPortAndTheDefaultExport() {
        assertEquals(tcp("example.com", 10809, "", "off"), parse("nbd://example.com"));
        assertEquals(tcp("example.com", 10809, "", "off"), parse("nbd://example.com/"));
        assertEquals(tcp("10.0.0.1", 10809, "", "off"), parse("nbd://10.0.0.1:"));
        assertEquals(new Address("example.com", 10809), parse("nbd://example.com").address());
    }

    @Test
    public void portAndExportName() {
        assertEquals(tcp("10.0.0.1", 4777, "disk0", "off"), parse("nbd://10.0.0.1:4777/disk0"));
        assertEquals(tcp("h", 1, "a/b", "off"), parse("nbd://h:1/a/b"));
        assertEquals("only the first / goes", tcp("h", 65535, "/abs", "off"), parse("nbd://h:65535//abs"));
    }

    @Test
    public void theExportNameIsPercentDecodedAndAPlusStaysAPlus() {
        assertEquals("my disk+1", parse("nbd://h/my%20disk+1").exportName());
        assertEquals("caf\u00e9", parse("nbd://h/caf%C3%A9").exportName());
        assertEquals("caf\u00e9", parse("nbd://h/caf\u00e9").exportName());
        assertEquals("?x", parse("nbd://h/%3Fx").exportName());
    }

    @Test
    public void ipv6InBrackets() {
        NbdUri uri = parse("nbd://[::1]:10810/x");
        assertEquals(tcp("::1", 10810, "x", "off"), uri);
        assertEquals("[::1]:10810", uri.address().toString());
        assertEquals(tcp("fe80::1", 10809, "", "off"), parse("nbd://[fe80::1]"));
    }

    @Test
    public void nbdsRequiresTls() {
        assertEquals(tcp("h", 10809, "e", "require"), parse("nbds://h/e"));
        assertEquals(tcp("h", 10809, "", "require"), parse("NBDS://h"));
    }

    @Test
    public void tlsCertificatesBecomeAnAbsolutePath() {
        assertEquals(Optional.of("/etc/pki/nbd"), parse("nbds://h/e?tls-certificates=/etc/pki/nbd").tlsCertificates());
        assertEquals(Optional.of(Path.of("certs").toAbsolutePath().toString()),
                parse("nbds://h?tls-certificates=certs").tlsCertificates());
        assertEquals("accepted with nbd:// too, as libnbd does (unused without TLS)", Optional.of("/c"),
                parse("nbd://h?tls-certificates=/c").tlsCertificates());
        assertEquals(Optional.of("/a dir"), parse("nbds://h?tls-certificates=/a%20dir").tlsCertificates());
    }

    @Test
    public void unixSockets() {
        NbdUri uri = parse("nbd+unix:///foo?socket=/tmp/nbd.sock");
        assertEquals(unix("/tmp/nbd.sock", "foo", "off", Optional.empty()), uri);
        assertEquals(Address.unix("/tmp/nbd.sock"), uri.address());
        assertEquals(unix("/run/s", "", "off", Optional.empty()), parse("nbd+unix:///?socket=/run/s"));
        assertEquals(unix("/run/s", "", "off", Optional.empty()), parse("nbd+unix://?socket=/run/s"));
        assertEquals(unix(Path.of("rel.sock").toAbsolutePath().toString(), "", "off", Optional.empty()),
                parse("nbd+unix:///?socket=rel.sock"));
        assertEquals(unix("/run/s", "e", "require", Optional.of("/certs")),
                parse("nbds+unix:///e?socket=/run/s&tls-certificates=/certs"));
        assertEquals(unix("/run/s", "e", "require", Optional.of("/certs")),
                parse("nbds+unix:///e?tls-certificates=/certs&socket=/run/s"));
    }

    @Test
    public void addressesAreNotUris() {
        for (String address : new String[] {"10.0.0.1", "nbd.example", "::1", "fe80::1", "/tmp/x.sock", "nbd",
            "nbd:host", "./nbd://x"}) {
            assertFalse(address, NbdUri.looksLikeUri(address));
        }
        assertTrue(NbdUri.looksLikeUri("nbd+vsock:///"));
        assertTrue(NbdUri.looksLikeUri("http://example.com"));
    }

    @Test
    public void otherSchemesAreRefusedByName() {
        for (String uri : new String[] {"nbd+vsock:///", "nbds+vsock://2:10809/", "nbd+ssh://host/e",
            "nbds+ssh://host/e", "http://example.com/", "file:///tmp/x"}) {
            String scheme = uri.substring(0, uri.indexOf(':'));
            String e = refused(uri);
            assertTrue(e, e.contains("'" + scheme + "'") && e.contains("not supported") && e.contains("nbd+unix://"));
        }
    }

    @Test
    public void tlsPskFileBecomesAnAbsolutePath() {
        assertEquals(new NbdUri("h", 10809, "", "e", "require", Optional.empty(), Optional.of("/etc/keys.psk"),
                Optional.empty()), parse("nbds://h/e?tls-psk-file=/etc/keys.psk"));
        assertEquals(Optional.of(Path.of("keys.psk").toAbsolutePath().toString()),
                parse("nbds://h?tls-psk-file=keys.psk").tlsPsk());
        assertEquals(Optional.of("/a b.psk"), parse("nbds://h?tls-psk-file=/a%20b.psk").tlsPsk());
        assertEquals("accepted with nbd:// too, as libnbd does (unused without TLS)", Optional.of("/k"),
                parse("nbd://h?tls-psk-file=/k").tlsPsk());
        assertTrue(refused("nbds://h?tls-psk-file=").contains("tls-psk-file= without a path"));
        assertTrue(refused("nbds://h?tls-psk-file=/a&tls-psk-file=/b").contains("tls-psk-file= twice"));
    }

    @Test
    public void theUserNameIsThePreSharedKeysIdentity() {
        NbdUri uri = parse("nbds://alice@h:4778/e?tls-psk-file=/k");
        assertEquals(new NbdUri("h", 4778, "", "e", "require", Optional.empty(), Optional.of("/k"),
                Optional.of("alice")), uri);
        assertEquals(new Address("h", 4778), uri.address());
        assertEquals(Optional.of("bob smith"), parse("nbds://bob%20smith@[::1]/?tls-psk-file=/k").tlsUsername());
        assertEquals("::1", parse("nbds://bob@[::1]/?tls-psk-file=/k").host());
        assertEquals(new NbdUri("", 0, "/tmp/nbd.sock", "", "require", Optional.empty(), Optional.of("/k"),
                Optional.of("alice")), parse("nbds+unix://alice@/?socket=/tmp/nbd.sock&tls-psk-file=/k"));
        assertEquals(Optional.empty(), parse("nbds://h?tls-psk-file=/k").tlsUsername());
    }

    @Test
    public void aUserNameWithoutAPreSharedKeyIsRefused() {
        String e = refused("nbds+unix://alice@/?socket=/tmp/nbd.sock");
        assertTrue(e, e.contains("user name ('alice@')") && e.contains("needs tls-psk-file=FILE"));
        assertTrue(refused("nbd://bob@h/e").contains("bob@"));
        assertTrue(refused("nbds://bob@h/e?tls-certificates=/c").contains("needs tls-psk-file="));
    }

    @Test
    public void aPasswordOrAnEmptyUserNameIsRefused() {
        String e = refused("nbds://alice:secret@h/e?tls-psk-file=/k");
        assertTrue(e, e.contains("password") && !e.contains("secret"));
        assertTrue(refused("nbds://@h/e?tls-psk-file=/k").contains("empty user name"));
        assertTrue(refused("nbds://a%0Ab@h/e?tls-psk-file=/k").contains("control characters"));
        assertTrue("a UNIX scheme still takes no host", refused("nbds+unix://alice@h/?socket=/s&tls-psk-file=/k")
                .contains("names a host ('h')"));
    }

    @Test
    public void certificatesOrAPreSharedKeyNotBoth() {
        String e = refused("nbds://h/e?tls-certificates=/c&tls-psk-file=/k");
        assertTrue(e, e.contains("X.509 certificates or a pre-shared key, not both"));
    }

    @Test
    public void otherQueryParametersAreRefusedByName() {
        for (String name : new String[] {"tls-hostname", "tls-verify-peer", "tls-username", "tls", "uri",
            "SOCKET"}) {
            String e = refused("nbds://h/e?" + name + "=x");
            assertTrue(e, e.contains("'" + name + "'") && e.contains("not supported"));
        }
        assertTrue(refused("nbd://h/e?tls-certificates=/c&unknown").contains("'unknown'"));
        assertTrue(refused("nbds://h/e?x=1").contains("only socket=, tls-certificates= and tls-psk-file="));
    }

    @Test
    public void theSocketParameterBelongsToUnixSchemesAndIsRequiredThere() {
        assertTrue(refused("nbd://h/e?socket=/tmp/s").contains("socket="));
        assertTrue(refused("nbds://h/e?socket=/tmp/s").contains("nbd+unix://"));
        assertTrue(refused("nbd+unix:///e").contains("socket=PATH"));
        assertTrue(refused("nbds+unix:///e?tls-certificates=/c").contains("socket=PATH"));
        assertTrue(refused("nbd+unix:///e?socket=").contains("socket= without a path"));
        assertTrue(refused("nbd+unix:///e?socket").contains("socket= without a path"));
        assertTrue(refused("nbd+unix:///e?socket=/a&socket=/b").contains("twice"));
        assertTrue(refused("nbds://h?tls-certificates=").contains("tls-certificates= without a path"));
    }

    @Test
    public void aUnixSchemeTakesNoHost() {
        String e = refused("nbd+unix://localhost/e?socket=/tmp/s");
        assertTrue(e, e.contains("'localhost'") && e.contains("nbd+unix:///EXPORT?socket=PATH"));
        assertTrue(refused("nbds+unix://h:10809/?socket=/tmp/s").contains("h:10809"));
    }

    @Test
    public void aTcpSchemeNeedsAHostAndAPortInRange() {
        assertTrue(refused("nbd:///e").contains("needs a host"));
        assertTrue(refused("nbd://").contains("needs a host") || refused("nbd://").contains("not a valid URI"));
        assertTrue(refused("nbd://h:0/e").contains("port 0"));
        assertTrue(refused("nbd://h:65536/e").contains("port 65536"));
        assertTrue(refused("nbd://h:port/e").contains("'h:port'"));
        assertTrue(refused("nbd://h:99999999999/e").contains("not HOST[:PORT]"));
    }

    @Test
    public void malformedUrisAndFragmentsAreRefused() {
        assertTrue(refused("nbd://h/a b").contains("not a valid URI"));
        assertTrue(refused("nbd://h/%zz").contains("not a valid URI") || refused("nbd://h/%zz").contains("'%'"));
        assertTrue(refused("nbd://h/%ff").contains("UTF-8"));
        assertTrue(refused("nbd://h/e#frag").contains("#frag"));
        assertTrue(refused("nbd+unix:///e?socket=%00").contains("socket="));
    }
}
