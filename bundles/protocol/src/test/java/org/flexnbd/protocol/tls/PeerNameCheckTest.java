package org.flexnbd.protocol.tls;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The names check on certificates that openssl made and the JDK's own trust manager accepts (each its own
 * authority), called as the listener's TLS engine calls it: only a subject with exactly one common name, and an
 * allowed one, gets through.
 */
public class PeerNameCheckTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void oneAllowedCommonNamePasses() throws Exception {
        X509Certificate alice = certificate("/O=test/CN=alice");
        check(alice, Set.of("alice", "bob"));
    }

    @Test
    public void aNameNotAllowedIsRefused() throws Exception {
        X509Certificate carol = certificate("/CN=carol");
        assertRefused(carol, Set.of("alice", "bob"), "not among the names allowed");
    }

    @Test
    public void severalCommonNamesAreRefusedEvenWhenOneIsAllowed() throws Exception {
        X509Certificate both = certificate("/CN=mallory/CN=alice");
        assertEquals(Set.of("mallory", "alice"), PeerNameCheck.commonNames(both));
        assertRefused(both, Set.of("alice"), "2 common names");
        assertRefused(both, Set.of("alice", "mallory"), "2 common names");
    }

    @Test
    public void severalCommonNamesInOneMultiValuedRdnAreRefused() throws Exception {
        X509Certificate both = certificate("/CN=mallory+CN=alice", "-multivalue-rdn");
        assertEquals(Set.of("mallory", "alice"), PeerNameCheck.commonNames(both));
        assertRefused(both, Set.of("alice"), "2 common names");
    }

    @Test
    public void noCommonNameIsRefused() throws Exception {
        assertRefused(certificate("/O=alice"), Set.of("alice"), "not among the names allowed");
    }

    private static void assertRefused(X509Certificate c, Set<String> names, String why) throws Exception {
        try {
            check(c, names);
            fail(c.getSubjectX500Principal() + " taken for " + names);
        } catch (CertificateException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains(why));
        }
    }

    /** The check as the listener runs it, over the JDK's trust manager with {@code c} as the only authority. */
    private static void check(X509Certificate c, Set<String> names) throws Exception {
        KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
        anchors.load(null, null);
        anchors.setCertificateEntry("ca", c);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(anchors);
        X509ExtendedTrustManager chain = (X509ExtendedTrustManager) tmf.getTrustManagers()[0];
        new PeerNameCheck(chain, names).checkClientTrusted(new X509Certificate[] {c}, "RSA", (SSLEngine) null);
    }

    private X509Certificate certificate(String subject, String... options) throws Exception {
        assumeTrue("openssl is not installed", Files.isExecutable(Path.of("/usr/bin/openssl")));
        Path dir = tmp.newFolder().toPath();
        List<String> command = new ArrayList<>(List.of("/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048",
                "-nodes", "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString(),
                "-days", "1", "-subj", subject));
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile())
                .start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("openssl took longer than 30 s");
        }
        assertEquals(Files.readString(dir.resolve("log")), 0, p.exitValue());
        try (InputStream in = Files.newInputStream(dir.resolve("cert.pem"))) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }
}
