package org.flexnbd.protocol.tls;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The blocking shell over loopback sockets, each end with its own reading and writing thread: data both ways at
 * once, then a TLS 1.3 key update from the client that the server's reader must answer on its own (under its
 * writer's lock, the writer being idle), and every byte arrives.
 */
public class TlsChannelTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test(timeout = 60_000)
    public void theReaderAnswersAKeyUpdateAndNoByteIsLost() throws Exception {
        assumeTrue("openssl is not installed", onPath("openssl"));
        Path certs = tmp.getRoot().toPath().resolve("certs");
        Process p = new ProcessBuilder("sh", "../../tools/make-certs.sh", certs.toString()).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        javax.net.ssl.SSLEngine clientEngine = X509Credentials.client(certs).clientEngine("localhost", 0);
        X509Credentials serverCredentials = X509Credentials.server(certs, false, Set.of());

        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                SocketChannel clientSocket = SocketChannel.open(listener.getLocalAddress());
                SocketChannel serverSocket = listener.accept()) {
            CountingChannel serverWire = new CountingChannel(serverSocket);
            CompletableFuture<TlsChannel> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return TlsChannel.handshake(serverWire, serverCredentials.serverEngine());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            TlsChannel client = TlsChannel.handshake(clientSocket, clientEngine);
            TlsChannel server = accepted.get(30, TimeUnit.SECONDS);
            assertEquals("CN=localhost", client.peerSubject());
            assertTrue(client.describe(), client.describe().startsWith("TLSv1.3 "));

            byte[] up = pattern(4 << 20, 1);
            byte[] down = pattern(3 << 20, 2);
            CompletableFuture<byte[]> serverReads = readAsync(server, up.length, 1000);
            CompletableFuture<byte[]> clientReads = readAsync(client, down.length, 256 * 1024);
            CompletableFuture<Void> serverWrites =
                    CompletableFuture.runAsync(() -> write(server, down, 0, down.length));
            write(client, up, 0, up.length / 2);
            serverWrites.get(30, TimeUnit.SECONDS);
            assertArrayEquals(down, clientReads.get(30, TimeUnit.SECONDS));
            // The server's writer is idle now: only its reader can answer the key update.
            clientReads = readAsync(client, down.length, 256 * 1024);
            long sentBefore = serverWire.written.get();
            clientEngine.beginHandshake(); // the key update goes out before the next record
            write(client, up, up.length / 2, up.length - up.length / 2);
            assertArrayEquals(up, serverReads.get(30, TimeUnit.SECONDS));
            assertTrue("the server's reader did not answer the key update", serverWire.written.get() > sentBefore);
            write(server, down, 0, down.length); // under the server's new keys
            assertArrayEquals(down, clientReads.get(30, TimeUnit.SECONDS));
        }
    }

    /** A socket that counts the bytes written to it. */
    private static final class CountingChannel implements ByteChannel {
        final AtomicLong written = new AtomicLong();
        private final ByteChannel socket;

        CountingChannel(ByteChannel socket) {
            this.socket = socket;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return socket.read(dst);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = socket.write(src);
            written.addAndGet(n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return socket.isOpen();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static CompletableFuture<byte[]> readAsync(TlsChannel c, int length, int chunk) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuffer all = ByteBuffer.allocate(length);
            try {
                while (all.hasRemaining()) {
                    ByteBuffer dst = all.slice(all.position(), Math.min(chunk, all.remaining()));
                    int n = c.read(dst);
                    if (n < 0) {
                        break;
                    }
                    all.position(all.position() + n);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return all.array();
        });
    }

    private static void write(TlsChannel c, byte[] data, int from, int length) {
        try {
            assertEquals(length, c.write(new ByteBuffer[] {ByteBuffer.wrap(data, from, length)}, 0, 1));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }
}
