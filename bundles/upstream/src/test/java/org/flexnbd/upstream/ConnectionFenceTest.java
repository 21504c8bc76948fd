package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Nbd;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * A connection given up while the journal is written again on it, over a real socket on 127.0.0.1 in blocking mode
 * (as the connecting thread has it), the test playing the server: it is only shut for sending, so that the server
 * may still carry out and answer the write it read, and it is fenced until the server closes its end.
 */
public class ConnectionFenceTest {
    private ServerSocketChannel listener;
    private SocketChannel server;
    private Connection c;

    @Before
    public void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        SocketChannel socket = SocketChannel.open(listener.getLocalAddress());
        server = listener.accept();
        c = PlainConnections.over(socket, Nbd.FLAG_HAS_FLAGS);
    }

    @After
    public void close() throws IOException {
        c.close();
        server.close();
        listener.close();
    }

    @Test
    public void aReplayGivenUpWaitsForTheServerToCloseBeforeAnythingIsSentAgain() throws Exception {
        c.replaying();
        c.out().write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
        c.out().flush();
        c.fail("no progress replaying the journal", false);

        ByteBuffer got = ByteBuffer.allocate(16);
        while (server.read(got) >= 0) {
            assertTrue("nothing after the write but the end", got.position() <= 4);
        }
        assertEquals("the write came, then the proxy's end", 4, got.position());
        server.write(ByteBuffer.wrap(new byte[16])); // the server's answer, late: the socket is still open to it

        long start = System.nanoTime();
        CompletableFuture<Boolean> fenced = CompletableFuture.supplyAsync(() -> c.fence(5000));
        Thread.sleep(300); // the server still carries out what it read
        assertFalse("fenced while the server has not closed", fenced.isDone());
        server.close();
        assertTrue("the server closed within the bound", fenced.get(5, TimeUnit.SECONDS));
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) >= 300);
        assertFalse("closed after", c.channel.socket().isOpen());
    }

    @Test
    public void aConnectionWithOnlyItsHandshakeIsClosedAtOnce() throws Exception {
        c.fail("the export changed", false);
        assertFalse(c.channel.socket().isOpen());
        assertTrue(c.fence(5000));
    }
}
