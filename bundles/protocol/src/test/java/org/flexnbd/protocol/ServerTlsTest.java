package org.flexnbd.protocol;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;


import org.flexnbd.protocol.tls.StartTlsChannel;
import org.flexnbd.protocol.tls.TlsCredentials;
import org.flexnbd.protocol.tls.TlsMode;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The listening side's STARTTLS over real loopback sockets, the JDK's TLS at both ends: what TLS "require" refuses
 * before STARTTLS, the negotiation starting afresh inside TLS, and a client certificate asked for and checked.
 */
public class ServerTlsTest {
    private static final ServerOffer OFFER = new ServerOffer(
            new ExportInfo("", 1 << 20, Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH, 1, 4096, Nbd.MAX_PAYLOAD, ""),
            true, List.of());

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path certs;
    private ServerSocketChannel listener;
    private SocketChannel client;
    private SocketChannel served;

    @Before
    public void certificates() throws Exception {
        assumeTrue("openssl is not installed", NbdkitPeerTest.onPath("openssl"));
        certs = tmp.getRoot().toPath().resolve("certs");
        Process p = new ProcessBuilder("sh", "../../tools/make-certs.sh", certs.toString(), "trusted-client")
                .inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @After
    public void close() throws IOException {
        for (java.io.Closeable c : new java.io.Closeable[] {client, served, listener}) {
            if (c != null) {
                c.close();
            }
        }
    }

    /** Serves one client with TLS as {@code mode} says; the future holds the agreement or the failure. */
    private CompletableFuture<ClientAgreement> serve(TlsMode mode, boolean verifyPeer) throws IOException {
        return serve(mode, verifyPeer, java.util.Set.of());
    }

    private CompletableFuture<ClientAgreement> serve(TlsMode mode, boolean verifyPeer, java.util.Set<String> names)
            throws IOException {
        return serve(mode, TlsCredentials.server(certs, verifyPeer, names));
    }

    private CompletableFuture<ClientAgreement> serve(TlsMode mode, TlsCredentials credentials) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                served = listener.accept();
                StartTlsChannel wire = new StartTlsChannel(served);
                return ServerHandshake.newstyle(new WireInput(wire, 4096), new WireOutput(wire, 4096), OFFER, mode,
                        () -> wire.start(credentials::accept));
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    private StartTlsChannel connect() throws IOException {
        client = SocketChannel.open(listener.getLocalAddress());
        return new StartTlsChannel(client);
    }

    private record Greeted(StartTlsChannel wire, WireInput in, WireOutput out) { }

    /** Connected, with the server's greeting read; the client flags are the caller's to send. */
    private Greeted greeted() throws IOException {
        StartTlsChannel wire = connect();
        WireInput in = new WireInput(wire, 4096);
        WireOutput out = new WireOutput(wire, 4096);
        in.readLong();
        in.readLong();
        in.readUnsignedShort();
        return new Greeted(wire, in, out);
    }

    /** The client side's whole handshake, TLS required, proving itself with {@code credentials}. */
    private static UpstreamExport negotiate(StartTlsChannel wire, TlsCredentials credentials) throws IOException {
        return ClientHandshake.negotiate(new WireInput(wire, 4096), new WireOutput(wire, 4096), "", List.of(),
                TlsMode.REQUIRE, () -> wire.start(p -> credentials.connect(p, "127.0.0.1", 0)));
    }

    @Test(timeout = 30_000)
    public void requiredTlsRefusesOptionsBeforeStartTlsThenNegotiatesInsideIt() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, false);
        Greeted g = greeted();
        StartTlsChannel wire = g.wire();
        WireInput in = g.in();
        WireOutput out = g.out();
        out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        for (int option : new int[] {Nbd.OPT_LIST, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_INFO, Nbd.OPT_GO}) {
            assertEquals("option " + option, Nbd.REP_ERR_TLS_REQD, ask(in, out, option, ByteBuffer.allocate(0)));
        }
        assertEquals(Nbd.REP_ERR_INVALID, ask(in, out, Nbd.OPT_STARTTLS, ByteBuffer.wrap(new byte[] {1})));
        assertEquals(Nbd.REP_ACK, ask(in, out, Nbd.OPT_STARTTLS, ByteBuffer.allocate(0)));
        TlsCredentials trust = TlsCredentials.client(certs);
        wire.start(p -> trust.connect(p, "127.0.0.1", 0));
        assertEquals("STARTTLS twice", Nbd.REP_ERR_INVALID, ask(in, out, Nbd.OPT_STARTTLS, ByteBuffer.allocate(0)));
        OptionCodec.writeOption(out, Nbd.OPT_EXPORT_NAME, ByteBuffer.allocate(0));
        out.flush();
        assertEquals(1 << 20, in.readLong());
        ClientAgreement a = server.get(10, TimeUnit.SECONDS);
        assertEquals(1 << 20, a.export().size());
    }

    private static int ask(WireInput in, WireOutput out, int option, ByteBuffer data) throws IOException {
        OptionCodec.writeOption(out, option, data);
        out.flush();
        OptionCodec.OptionReply r = OptionCodec.readReply(in);
        assertEquals(option, r.option());
        return r.type();
    }

    /** Bytes a client sends in plain text after STARTTLS, before its reply, are not taken as the TLS handshake. */
    @Test(timeout = 30_000)
    public void bytesRightAfterStartTlsEndTheConnection() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, false);
        WireOutput out = greeted().out();
        out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE);
        OptionCodec.writeOption(out, Nbd.OPT_STARTTLS, ByteBuffer.allocate(0));
        OptionCodec.writeOption(out, Nbd.OPT_GO, ByteBuffer.allocate(0)); // injected, in the same packet
        out.flush();
        assertFailed(server, "after STARTTLS before its reply");
    }

    /** The client side's guard: a server that follows its ACK with plain bytes is not given a TLS handshake. */
    @Test(timeout = 30_000)
    public void plainBytesAfterTheServersAckAreRefused() throws Exception {
        CompletableFuture<Void> fake = CompletableFuture.runAsync(() -> {
            try (SocketChannel s = listener.accept()) {
                s.write(ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                        .putShort((short) Nbd.FLAG_FIXED_NEWSTYLE).flip());
                ByteBuffer in = ByteBuffer.allocate(20);
                while (in.hasRemaining() && s.read(in) >= 0) {
                    continue; // the client flags and the STARTTLS option
                }
                s.write(ByteBuffer.allocate(20 + 8).putLong(Nbd.REPLY_MAGIC).putInt(Nbd.OPT_STARTTLS)
                        .putInt(Nbd.REP_ACK).putInt(0).putLong(0x1122334455667788L).flip());
                s.read(ByteBuffer.allocate(1)); // until the client closes
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        StartTlsChannel wire = connect();
        TlsCredentials trust = TlsCredentials.client(certs);
        try {
            negotiate(wire, trust);
            fail("a handshake began over bytes the server injected");
        } catch (NbdException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("after the server agreed to STARTTLS"));
        }
        client.close();
        fake.get(10, TimeUnit.SECONDS);
    }

    @Test(timeout = 30_000)
    public void exportNameWithoutRequiredTlsEndsTheConnection() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, false);
        WireOutput out = greeted().out();
        out.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE);
        OptionCodec.writeOption(out, Nbd.OPT_EXPORT_NAME, ByteBuffer.allocate(0));
        out.flush();
        assertFailed(server, "TLS, which is required");
    }

    @Test(timeout = 30_000)
    public void theClientHandshakeAndTheServerHandshakeAgreeOnTls() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.ON, false);
        StartTlsChannel wire = connect();
        TlsCredentials trust = TlsCredentials.client(certs);
        UpstreamExport e = negotiate(wire, trust);
        assertNotNull(wire.tls());
        assertTrue("structured replies agreed again inside TLS", e.structuredReplies());
        assertTrue(server.get(10, TimeUnit.SECONDS).structuredReplies());
    }

    @Test(timeout = 30_000)
    public void verifyPeerTakesACertificateOfOurAuthority() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, true);
        StartTlsChannel wire = connect();
        TlsCredentials mine = TlsCredentials.client(certs); // holds client-cert.pem and client-key.pem
        negotiate(wire, mine);
        server.get(10, TimeUnit.SECONDS);
    }

    @Test(timeout = 30_000)
    public void peerNamesTakeACertificateWithOneOfThem() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, true, java.util.Set.of("x", "trusted-client"));
        StartTlsChannel wire = connect();
        TlsCredentials mine = TlsCredentials.client(certs);
        negotiate(wire, mine);
        server.get(10, TimeUnit.SECONDS);
    }

    @Test(timeout = 30_000)
    public void peerNamesRefuseACertificateOfAnotherName() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, true, java.util.Set.of("someone-else"));
        StartTlsChannel wire = connect();
        TlsCredentials mine = TlsCredentials.client(certs);
        try {
            negotiate(wire, mine);
        } catch (IOException refusedToo) {
            // as with a missing certificate, TLS 1.3 may let the client finish first
        }
        assertFailed(server, "not among the names allowed");
    }

    private Path psk(String name, String lines) throws IOException {
        Path f = tmp.getRoot().toPath().resolve(name);
        java.nio.file.Files.writeString(f, lines);
        java.nio.file.Files.setPosixFilePermissions(f,
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    @Test(timeout = 30_000)
    public void aPreSharedKeyOnBothEnds() throws Exception {
        Path keys = psk("server.psk", "alice:" + "00112233445566778899aabbccddeeff".repeat(2) + "\nbob:"
                + "ffeeddccbbaa99887766554433221100".repeat(2) + "\n");
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, TlsCredentials.serverPsk(keys));
        StartTlsChannel wire = connect();
        TlsCredentials bob = TlsCredentials.clientPsk(keys, "bob");
        UpstreamExport e = negotiate(wire, bob);
        assertEquals(1 << 20, e.export().size());
        assertTrue(server.get(10, TimeUnit.SECONDS).structuredReplies());
        assertEquals("psk:bob", wire.tls().peerSubject());
    }

    @Test(timeout = 30_000)
    public void anIdentityTheServerDoesNotHoldIsRefused() throws Exception {
        Path keys = psk("server.psk", "alice:" + "00112233445566778899aabbccddeeff".repeat(2) + "\n");
        Path other = psk("client.psk", "mallory:" + "00112233445566778899aabbccddeeff".repeat(2) + "\n");
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, TlsCredentials.serverPsk(keys));
        StartTlsChannel wire = connect();
        TlsCredentials mallory = TlsCredentials.clientPsk(other, "");
        try {
            negotiate(wire, mallory);
            fail("an unknown identity was served");
        } catch (IOException expected) {
            // the server's alert
        }
        assertFailed(server, "unknown_psk_identity");
    }

    @Test
    public void aKeyFileOthersMayReadIsRefused() throws Exception {
        Path keys = psk("open.psk", "alice:" + "00112233445566778899aabbccddeeff".repeat(2) + "\n");
        java.nio.file.Files.setPosixFilePermissions(keys,
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
        try {
            TlsCredentials.serverPsk(keys);
            fail("a key file the group may read was taken");
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("chmod 600"));
            assertTrue(expected.getMessage(), !expected.getMessage().contains("00112233"));
        }
    }

    @Test
    public void peerNamesWithoutVerifyingPeersAreRefused() {
        try {
            TlsCredentials.server(certs, false, java.util.Set.of("alice"));
            fail("names without certificates to check were taken");
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("certificates"));
        }
    }

    @Test(timeout = 30_000)
    public void verifyPeerRefusesAClientWithoutCertificate() throws Exception {
        CompletableFuture<ClientAgreement> server = serve(TlsMode.REQUIRE, true);
        Path onlyCa = tmp.newFolder("only-ca").toPath();
        java.nio.file.Files.copy(certs.resolve("ca-cert.pem"), onlyCa.resolve("ca-cert.pem"));
        StartTlsChannel wire = connect();
        TlsCredentials anonymous = TlsCredentials.client(onlyCa);
        try {
            negotiate(wire, anonymous);
        } catch (IOException refusedToo) {
            // TLS 1.3 lets the client finish first; whether it sees the refusal is a matter of timing
        }
        assertFailed(server, "certificate");
    }

    private static void assertFailed(CompletableFuture<ClientAgreement> server, String why) throws Exception {
        try {
            server.get(10, TimeUnit.SECONDS);
            fail("the server took the client");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            while (!(cause instanceof IOException) && cause.getCause() != null) {
                cause = cause.getCause();
            }
            assertTrue(cause.toString(), cause instanceof IOException);
            assertTrue(cause.getMessage(), cause.getMessage().contains(why));
        }
    }
}
