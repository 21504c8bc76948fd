package org.flexnbd.protocol.tls;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

import org.flexnbd.protocol.tls.TlsEngineBuffers.Status;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Two real JDK engines, client and server, talking only through {@link TlsEngineBuffers}: ciphertext is moved
 * between them by hand, as slowly (one byte at a time) or as fast (many records at once) as a test says, with the
 * certificates {@code tools/make-certs.sh} makes at test time.
 */
public class TlsEngineBuffersTest {
    private static final int SMALL = 100;
    private static final int LARGE = 256 * 1024;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Peer client;
    private Peer server;

    @Before
    public void engines() throws Exception {
        assumeTrue("openssl is not installed", onPath("openssl"));
        Path certs = tmp.getRoot().toPath().resolve("certs");
        Process p = new ProcessBuilder("sh", "../../tools/make-certs.sh", certs.toString()).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("make-certs.sh", 0, p.exitValue());
        client = new Peer(X509Credentials.client(certs).clientEngine(null, 0));
        server = new Peer(X509Credentials.server(certs, false, Set.of()).serverEngine());
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /** One end: its engine, its core, and the ciphertext it sent that the other end has not received yet. */
    private static final class Peer {
        final SSLEngine engine;
        final TlsEngineBuffers tls;
        /** Ciphertext on its way to the other end, kept ready for reading (flipped). */
        ByteBuffer inFlight = ByteBuffer.allocate(0);
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        boolean closed;
        int answers;

        Peer(SSLEngine engine) {
            this.engine = engine;
            this.tls = new TlsEngineBuffers(engine);
        }

        /** Puts what the core has to send on the wire. */
        void send() {
            ByteBuffer out = tls.outbound();
            ByteBuffer more = ByteBuffer.allocate(inFlight.remaining() + out.remaining());
            more.put(inFlight).put(out).flip();
            inFlight = more;
        }

        /** Gives the core up to {@code chunk} bytes of what {@code from} sent; false when nothing is on the wire. */
        boolean receiveFrom(Peer from, int chunk) throws Exception {
            if (!from.inFlight.hasRemaining()) {
                return false;
            }
            int n = tls.receive(room -> {
                int k = Math.min(chunk, Math.min(room.remaining(), from.inFlight.remaining()));
                room.put(from.inFlight.slice(from.inFlight.position(), k));
                from.inFlight.position(from.inFlight.position() + k);
                return k;
            });
            assertTrue("nothing was received", n > 0);
            return true;
        }

        /**
         * Unwraps all that {@code from} sent, fed {@code chunk} bytes at a time, into destinations of
         * {@code room} bytes; answers what the engine must answer.
         */
        void readAll(Peer from, int chunk, int room) throws Exception {
            ByteBuffer dst = ByteBuffer.allocate(room);
            while (!closed) {
                if (tls.hasPlaintext()) {
                    tls.take(dst);
                } else {
                    Status s = tls.unwrap(dst);
                    if (s == Status.RECEIVE && !receiveFrom(from, chunk)) {
                        break;
                    } else if (s == Status.SEND) {
                        answers++;
                        tls.wrap();
                        send();
                    } else if (s == Status.CLOSED) {
                        closed = true;
                    }
                }
                dst.flip();
                received.write(dst.array(), 0, dst.limit());
                dst.clear();
            }
        }

        /** Wraps all of {@code data} and puts its ciphertext on the wire. */
        void write(byte[] data) throws Exception {
            ByteBuffer[] src = {ByteBuffer.wrap(data)};
            do {
                tls.wrap(src, 0, 1);
                send();
            } while (src[0].hasRemaining());
        }
    }

    /** Drives both handshakes, {@code chunk} bytes at a time, until both are over. */
    private void handshake(int chunk) throws Exception {
        boolean clientReady = false;
        boolean serverReady = false;
        for (int steps = 0; !(clientReady && serverReady); steps++) {
            assertTrue("the handshake does not end", steps < 1_000_000);
            clientReady = step(client, server, chunk);
            serverReady = step(server, client, chunk);
        }
        assertFalse(client.tls.outbound().hasRemaining());
        assertFalse(server.tls.outbound().hasRemaining());
    }

    private static boolean step(Peer p, Peer other, int chunk) throws Exception {
        Status s = p.tls.handshake();
        if (s == Status.SEND) {
            p.send();
        } else if (s == Status.RECEIVE) {
            p.receiveFrom(other, chunk);
        } else if (s == Status.CLOSED) {
            fail("closed during the handshake");
        }
        return s == Status.READY;
    }

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test(timeout = 30_000)
    public void theHandshakeAgreesOnTls13AndShowsTheServersCertificate() throws Exception {
        handshake(64 * 1024);
        assertEquals("TLSv1.3", client.tls.session().getProtocol());
        assertEquals(client.tls.session().getCipherSuite(), server.tls.session().getCipherSuite());
        assertEquals("CN=localhost", client.tls.session().getPeerPrincipal().getName());
    }

    @Test(timeout = 30_000)
    public void theHandshakeTakesItsCiphertextOneByteAtATime() throws Exception {
        handshake(1);
        assertEquals("TLSv1.3", server.tls.session().getProtocol());
    }

    @Test(timeout = 60_000)
    public void dataGoesBothWaysOneByteAtATime() throws Exception {
        handshake(1);
        byte[] up = pattern(40_000, 1); // three records
        byte[] down = pattern(50_000, 2);
        client.write(up);
        server.write(down);
        server.readAll(client, 1, SMALL);
        client.readAll(server, 1, LARGE);
        assertArrayEquals(up, server.received.toByteArray());
        assertArrayEquals(down, client.received.toByteArray());
    }

    @Test(timeout = 60_000)
    public void dataGoesBothWaysInLargePieces() throws Exception {
        handshake(64 * 1024);
        byte[] up = pattern(3 << 20, 3);
        byte[] down = pattern(2 << 20, 4);
        client.write(up);
        server.write(down);
        server.readAll(client, 100_000, LARGE);
        client.readAll(server, 100_000, 1000);
        assertArrayEquals(up, server.received.toByteArray());
        assertArrayEquals(down, client.received.toByteArray());
    }

    /** A destination with room for a whole record gets its plaintext from the engine, not through a copy. */
    @Test(timeout = 30_000)
    public void aLargeDestinationTakesSeveralRecordsWithoutTheCoresBuffer() throws Exception {
        handshake(64 * 1024);
        server.write(new byte[0]); // nothing to send: the session ticket only
        client.readAll(server, 64 * 1024, LARGE);
        byte[] up = pattern(64 * 1024, 5); // four records
        client.write(up);
        while (server.receiveFrom(client, Integer.MAX_VALUE)) {
            // all of it into the core's ciphertext buffer
        }
        ByteBuffer dst = ByteBuffer.allocate(LARGE);
        assertEquals(Status.READY, server.tls.unwrap(dst));
        assertFalse("plaintext went through the core's own buffer", server.tls.hasPlaintext());
        assertEquals(up.length, dst.position());
        assertArrayEquals(up, java.util.Arrays.copyOf(dst.array(), dst.position()));
    }

    @Test(timeout = 30_000)
    public void closeNotifyFromTheClientEndsTheServersInputAfterItsData() throws Exception {
        handshake(64 * 1024);
        byte[] up = pattern(30_000, 6);
        client.write(up);
        client.tls.closeOutbound();
        client.send();
        server.readAll(client, 1000, SMALL);
        assertTrue("the close was not seen", server.closed);
        assertArrayEquals(up, server.received.toByteArray());
        assertEquals(Status.CLOSED, server.tls.unwrap(ByteBuffer.allocate(LARGE)));
    }

    @Test(timeout = 30_000)
    public void closeNotifyFromTheServerEndsTheClientsInput() throws Exception {
        handshake(1);
        byte[] down = pattern(20_000, 7);
        server.write(down);
        server.tls.closeOutbound();
        server.send();
        client.readAll(server, 1, LARGE);
        assertTrue("the close was not seen", client.closed);
        assertArrayEquals(down, client.received.toByteArray());
    }

    /**
     * TLS 1.2 closes both ways at once: the server's unwrap asks for its own close_notify to be sent, and then
     * says the input is over; the client sees that answer as its end.
     */
    @Test(timeout = 30_000)
    public void underTls12ACloseNotifyIsAnsweredWithOne() throws Exception {
        client.engine.setEnabledProtocols(new String[] {"TLSv1.2"});
        handshake(1);
        assertEquals("TLSv1.2", server.tls.session().getProtocol());
        byte[] up = pattern(40_000, 13);
        byte[] down = pattern(40_000, 14);
        client.write(up);
        server.write(down);
        client.tls.closeOutbound();
        client.send();
        server.readAll(client, 1, LARGE);
        assertArrayEquals(up, server.received.toByteArray());
        assertTrue("the close was not seen", server.closed);
        assertEquals("the close was not answered", 1, server.answers);
        client.readAll(server, 1000, SMALL);
        assertArrayEquals(down, client.received.toByteArray());
        assertTrue("the answer was not seen", client.closed);
    }

    @Test(timeout = 30_000)
    public void theEndOfTheInputWithoutCloseNotifyIsAnEndToo() throws Exception {
        handshake(64 * 1024);
        server.tls.inputEnded();
        assertEquals(Status.CLOSED, server.tls.unwrap(ByteBuffer.allocate(SMALL)));
    }

    @Test(timeout = 30_000)
    public void garbageAfterTheHandshakeIsAnSslException() throws Exception {
        handshake(64 * 1024);
        client.inFlight = ByteBuffer.wrap(garbageRecord());
        server.receiveFrom(client, Integer.MAX_VALUE);
        try {
            server.tls.unwrap(ByteBuffer.allocate(LARGE));
            fail("garbage was taken for TLS");
        } catch (SSLException expected) {
            // a record that does not authenticate
        }
    }

    @Test(timeout = 30_000)
    public void garbageDuringTheHandshakeIsAnSslExceptionAndLeavesAnAlertToSend() throws Exception {
        client.inFlight = ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes());
        assertEquals(Status.RECEIVE, server.tls.handshake());
        server.receiveFrom(client, Integer.MAX_VALUE);
        try {
            server.tls.handshake();
            fail("an HTTP request was taken for a ClientHello");
        } catch (SSLException expected) {
            // not a TLS record
        }
        server.tls.closeOutbound();
        assertTrue("no alert to send", server.tls.outbound().hasRemaining());
    }

    /** An application data record of the right shape whose contents are random: it cannot authenticate. */
    private static byte[] garbageRecord() {
        byte[] r = pattern(5 + 200, 8);
        r[0] = 23;
        r[1] = 3;
        r[2] = 3;
        r[3] = 0;
        r[4] = (byte) 200;
        return r;
    }

    /**
     * {@code beginHandshake()} on an established TLS 1.3 engine sends a key update asking for one back: the server's
     * unwrap asks for its answer to be sent, and data keeps flowing both ways under the new keys.
     */
    @Test(timeout = 60_000)
    public void aKeyUpdatePassesThroughWhileDataFlows() throws Exception {
        handshake(64 * 1024);
        assertEquals("TLSv1.3", client.tls.session().getProtocol());
        byte[] before = pattern(100_000, 9);
        byte[] after = pattern(100_000, 10);
        byte[] down = pattern(70_000, 11);
        client.write(before);
        client.engine.beginHandshake();
        client.write(after);
        server.write(down);
        server.readAll(client, 1000, SMALL);
        assertEquals("the key update was not answered", 1, server.answers);
        client.readAll(server, 1, LARGE);
        ByteArrayOutputStream up = new ByteArrayOutputStream();
        up.write(before);
        up.write(after);
        assertArrayEquals(up.toByteArray(), server.received.toByteArray());
        assertArrayEquals(down, client.received.toByteArray());
        byte[] more = pattern(50_000, 12); // under the keys both sides changed
        client.write(more);
        server.readAll(client, 50_000, LARGE);
        server.write(more);
        client.readAll(server, 50_000, LARGE);
        up.write(more);
        assertArrayEquals(up.toByteArray(), server.received.toByteArray());
        assertArrayEquals(more, java.util.Arrays.copyOfRange(client.received.toByteArray(), down.length,
                down.length + more.length));
    }
}
