package org.flexnbd.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLHandshakeException;

import org.flexnbd.protocol.tls.StartTlsChannel;
import org.flexnbd.protocol.tls.TlsCredentials;
import org.flexnbd.protocol.tls.TlsMode;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The upstream side's TLS against a real nbdkit (GnuTLS) on a UNIX socket, with certificates made at test time by
 * {@code tools/make-certs.sh}: STARTTLS then WRITE and READ inside TLS; a server that refuses STARTTLS, or speaks
 * oldstyle, when TLS is required; a server whose certificate another authority signed.
 */
public class TlsPeerTest {
    private static final Path MAKE_CERTS = Path.of("../../tools/make-certs.sh");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Process nbdkit;
    private Path socket;
    private Path certs;
    private SocketChannel channel;

    @Before
    public void peersAreInstalled() throws Exception {
        assumeTrue("nbdkit is not installed", NbdkitPeerTest.onPath("nbdkit"));
        assumeTrue("openssl is not installed", NbdkitPeerTest.onPath("openssl"));
        certs = makeCerts("certs");
        socket = tmp.getRoot().toPath().resolve("nbdkit.sock");
    }

    @After
    public void stop() throws Exception {
        if (channel != null) {
            channel.close();
        }
        if (nbdkit != null) {
            ProcessHandle.of(nbdkit.pid()).ifPresent(ProcessHandle::destroyForcibly);
            assertTrue("nbdkit did not stop", nbdkit.waitFor(10, TimeUnit.SECONDS));
        }
    }

    private Path makeCerts(String name) throws Exception {
        Path dir = tmp.getRoot().toPath().resolve(name);
        Process p = new ProcessBuilder("sh", MAKE_CERTS.toString(), dir.toString()).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("make-certs.sh", 0, p.exitValue());
        return dir;
    }

    private void startNbdkit(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("nbdkit", "-f", "-U", socket.toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("memory", "16M"));
        nbdkit = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!Files.exists(socket)) {
            assertTrue("nbdkit exited", nbdkit.isAlive());
            assertTrue("nbdkit did not listen", System.nanoTime() < deadline);
            Thread.sleep(20);
        }
    }

    private record Session(UpstreamExport export, StartTlsChannel channel, WireInput in, WireOutput out) { }

    private Session connect(TlsMode mode, Path trust) throws IOException {
        return connect(mode, TlsCredentials.client(trust));
    }

    private Session connect(TlsMode mode, TlsCredentials credentials) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        StartTlsChannel wire = new StartTlsChannel(channel);
        WireInput in = new WireInput(wire, 64 * 1024);
        WireOutput out = new WireOutput(wire, 64 * 1024);
        UpstreamExport e = ClientHandshake.negotiate(in, out, "", List.of(), mode,
                () -> wire.start(p -> credentials.connect(p, null, 0)));
        return new Session(e, wire, in, out);
    }

    @Test(timeout = 60_000)
    public void tlsRequiredWritesAndReadsInsideTls() throws Exception {
        startNbdkit("--tls=require", "--tls-certificates=" + certs);
        Session s = connect(TlsMode.REQUIRE, certs);
        org.flexnbd.protocol.tls.SecureChannel tls = s.channel().tls();
        assertNotNull("TLS is on", tls);
        assertEquals("CN=localhost", tls.peerSubject());
        writeAndReadBack(s);
    }

    /** A pre-shared key as nbdkit's --tls-psk reads it: Bouncy Castle's TLS against GnuTLS. */
    @Test(timeout = 60_000)
    public void aPreSharedKeyWritesAndReadsInsideTls() throws Exception {
        Path psk = pskFile("bob:" + "0123456789abcdef".repeat(4) + "\nalice:" + "fedcba9876543210".repeat(4) + "\n");
        startNbdkit("--tls=require", "--tls-psk=" + psk);
        Session s = connect(TlsMode.REQUIRE, TlsCredentials.clientPsk(psk, "alice"));
        assertTrue(s.channel().tls().describe(), s.channel().tls().describe().contains("PSK"));
        writeAndReadBack(s);
    }

    @Test(timeout = 60_000)
    public void aWrongPreSharedKeyIsRefused() throws Exception {
        startNbdkit("--tls=require", "--tls-psk=" + pskFile("alice:" + "0123456789abcdef".repeat(4) + "\n"));
        Path wrong = tmp.getRoot().toPath().resolve("wrong.psk");
        Files.writeString(wrong, "alice:" + "0123456789abcdee".repeat(4) + "\n");
        Files.setPosixFilePermissions(wrong, PosixFilePermissions.fromString("rw-------"));
        try {
            connect(TlsMode.REQUIRE, TlsCredentials.clientPsk(wrong, ""));
            fail("a wrong key was taken");
        } catch (IOException expected) {
            // GnuTLS ends the handshake (bad record MAC): the key is not the one it holds for alice
        }
    }

    private Path pskFile(String lines) throws IOException {
        Path f = tmp.getRoot().toPath().resolve("keys.psk");
        Files.writeString(f, lines);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    private void writeAndReadBack(Session s) throws IOException {
        assertEquals(16L << 20, s.export().export().size());

        byte[] data = Bytes.pattern(3 << 20, 41); // several TLS records, and more than one socket buffer
        Request write = Request.write(0, 1, 4096, ByteBuffer.wrap(data));
        RequestCodec.write(s.out(), write);
        s.out().flush();
        ReplyMessage written = ReplyCodec.read(s.in(), c -> write, Nbd.MAX_PAYLOAD);
        assertEquals(0, written.simple().error());
        Request read = Request.of(Nbd.CMD_READ, 0, 2, 4096, data.length);
        RequestCodec.write(s.out(), read);
        s.out().flush();
        ReplyMessage m = ReplyCodec.read(s.in(), c -> read, Nbd.MAX_PAYLOAD);
        Reply reply = m.simple() != null ? m.simple() : Reply.structured(m.cookie(), List.of(m.chunk()));
        assertArrayEquals(data, Wire.remaining(SimpleConversion.toSimple(read, reply).data()));
    }

    @Test(timeout = 60_000)
    public void tlsOnTalksPlainToAServerWithoutTls() throws Exception {
        startNbdkit("--tls=off");
        Session s = connect(TlsMode.ON, certs);
        assertEquals(null, s.channel().tls());
        assertEquals(16L << 20, s.export().export().size());
    }

    @Test(timeout = 60_000)
    public void tlsRequiredRefusesAServerWithoutTls() throws Exception {
        startNbdkit("--tls=off");
        expectFailure("refused STARTTLS");
    }

    @Test(timeout = 60_000)
    public void tlsRequiredRefusesAnOldstyleServer() throws Exception {
        startNbdkit("-o");
        expectFailure("oldstyle");
    }

    @Test(timeout = 60_000)
    public void aServerCertificateFromAnotherAuthorityIsRefused() throws Exception {
        startNbdkit("--tls=require", "--tls-certificates=" + certs);
        Path stranger = makeCerts("stranger");
        try {
            connect(TlsMode.REQUIRE, stranger);
            fail("a server signed by an authority we do not trust was accepted");
        } catch (SSLHandshakeException expected) {
            // the chain does not lead to our ca-cert.pem
        }
    }

    @Test
    public void aKeyOthersMayReadIsRefusedWithoutShowingIt() throws Exception {
        Path key = certs.resolve("server-key.pem");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
        String secret = Files.readAllLines(key).get(1);
        try {
            TlsCredentials.server(certs, false);
            fail("a world-readable key was taken");
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("chmod 600"));
            assertTrue(!expected.getMessage().contains(secret));
        }
    }

    @Test
    public void aPkcs1KeyAsOlderCerttoolWritesItIsTaken() throws Exception {
        Path key = certs.resolve("server-key.pem");
        Process p = new ProcessBuilder("openssl", "rsa", "-traditional", "-in", key.toString(), "-out",
                key.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertTrue(Files.readString(key).startsWith("-----BEGIN RSA PRIVATE KEY-----"));
        assertNotNull(TlsCredentials.server(certs, false));
    }

    private void expectFailure(String why) throws IOException {
        try {
            connect(TlsMode.REQUIRE, certs);
            fail("TLS was required and the server did not give it");
        } catch (NbdException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains(why));
            assertTrue(expected.getMessage(), expected.getMessage().contains("TLS is required"));
        }
    }
}
