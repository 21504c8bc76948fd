package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Start-up, exit status, log lines and signals, as the contract in ARCHITECTURE.md section 1 has them. */
public class LifecycleIT {
    private static final Pattern LOG_LINE = Pattern.compile("^[DIWEF]:\\d+ \\S+ \\S+\\.java:\\d+: .*$");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
    }

    private Path dir() {
        return tmp.getRoot().toPath();
    }

    @Test
    public void anUnreachableUpstreamIsFatalWithStatusOne() throws Exception {
        try (Peer p = Proxy.launch(dir(), "-l", "127.0.0.1", "-p", Integer.toString(Peer.freePort()), "-C",
                "127.0.0.1", "-P", Integer.toString(Peer.freePort()))) {
            Integer status = p.waitFor(30);
            assertNotNull("the proxy gave up within 30 s", status);
            assertEquals(p.stderr(), 1, status.intValue());
            assertTrue(p.stderr(), p.stderr().lines().anyMatch(l -> l.startsWith("F:") && LOG_LINE.matcher(l)
                    .matches()));
        }
    }

    @Test
    public void anUpstreamThatIsNoNbdServerIsFatalWithStatusOne() throws Exception {
        try (ServerSocket notNbd = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (Socket s = notNbd.accept(); OutputStream o = s.getOutputStream()) {
                    o.write("SSH-2.0-OpenSSH_9.2\r\n".getBytes());
                    o.flush();
                    Thread.sleep(5000);
                } catch (IOException | InterruptedException ignored) {
                    // the test is over
                }
            });
            t.setDaemon(true);
            t.start();
            try (Peer p = Proxy.launch(dir(), "-l", "127.0.0.1", "-p", Integer.toString(Peer.freePort()), "-C",
                    "127.0.0.1", "-P", Integer.toString(notNbd.getLocalPort()))) {
                Integer status = p.waitFor(30);
                assertEquals(p.stderr(), Integer.valueOf(1), status);
                assertTrue(p.stderr(), p.stderr().contains("F:"));
            }
        }
    }

    /** SIGTERM while the upstream's handshake is awaited at start: a stop asked for, not a failure. */
    @Test
    public void sigtermDuringTheUpstreamHandshakeAtStartIsACleanStop() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            // Never accepted: the kernel completes the connection, and no hello ever comes.
            try (Peer p = Proxy.launch(dir(), "-l", "127.0.0.1", "-p", Integer.toString(Peer.freePort()), "-C",
                    "127.0.0.1", "-P", Integer.toString(silent.getLocalPort()))) {
                Thread.sleep(3000);
                p.signal("TERM");
                Integer status = p.waitFor(30);
                assertEquals(p.stderr(), Integer.valueOf(0), status);
                assertFalse("a fatal line for a stop asked for: " + p.stderr(), p.stderr().contains("F:"));
            }
        }
    }

    @Test
    public void usageErrorsExitWithStatusTwo() throws Exception {
        String port = Integer.toString(Peer.freePort());
        String[][] wrong = {
            {"-l", "127.0.0.1", "-p", port},
            {"-l", "127.0.0.1", "-p", port, "-C", "127.0.0.1"},
            {"-l", "127.0.0.1", "-p", port, "-C", "/tmp/x.sock", "-P", "4000"},
            {"-l", "127.0.0.1", "-p", port, "-C", "127.0.0.1", "-P", "4000", "--no-such-flag"},
            {"-l", "127.0.0.1", "-p", "notaport", "-C", "127.0.0.1", "-P", "4000"},
        };
        for (String[] args : wrong) {
            try (Peer p = Proxy.launch(dir(), args)) {
                Integer status = p.waitFor(30);
                assertEquals(String.join(" ", args) + "\n" + p.stderr(), Integer.valueOf(2), status);
                assertFalse(p.stderr().isBlank());
            }
        }
    }

    @Test
    public void helpGoesToStdoutWithStatusZero() throws Exception {
        try (Peer p = Proxy.launch(dir(), "--help")) {
            assertEquals(Integer.valueOf(0), p.waitFor(30));
            for (String flag : new String[] {"--addr", "--port", "--conn-addr", "--conn-port", "--bind", "--verbose",
                "--quiet", "--upstream-timeout", "--max-clients", "--handshake"}) {
                assertTrue(flag + " in\n" + p.stdout(), p.stdout().contains(flag));
            }
        }
    }

    @Test
    public void sigtermStopsCleanlyRemovesTheSocketAndEveryLogLineHasTheFormat() throws Exception {
        try (ScriptedUpstream upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0)) {
            Path socket = dir().resolve("proxy.sock");
            try (Peer p = Proxy.launch(dir(), "-l", socket.toString(), "-C", "127.0.0.1", "-P",
                    Integer.toString(upstream.port()), "-v", "--debug")) {
                Proxy.awaitSocket(socket, 20);
                p.signal("TERM");
                assertEquals(p.stderr(), Integer.valueOf(0), p.waitFor(20));
                assertFalse("the socket file is removed", Files.exists(socket));
                String err = p.stderr();
                assertFalse("-v logs something", err.isBlank());
                err.lines().forEach(l -> assertTrue("log line format: " + l, LOG_LINE.matcher(l).matches()));
            }
        }
    }

    @Test
    public void sigintWithAClientConnectedPassesDisconnectUpstreamAndExitsZero() throws Exception {
        try (ScriptedUpstream upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0)) {
            Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                    Integer.toString(upstream.port()));
            try (proxy; ScriptedClient c = new ScriptedClient(proxy.port)) {
                assertEquals(0, c.call(ScriptedClient.write(1, 0, (byte) 9, 4096)).error());
                proxy.process.signal("INT");
                assertEquals(proxy.stderr(), Integer.valueOf(0), proxy.process.waitFor(20));
            }
            assertTrue("DISCONNECT reached the upstream", upstream.received().stream()
                    .anyMatch(r -> r.type() == org.flexnbd.protocol.Nbd.CMD_DISC));
        }
    }

    @Test
    public void quietByDefault() throws Exception {
        try (ScriptedUpstream upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0)) {
            Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                    Integer.toString(upstream.port()));
            try (proxy) {
                try (ScriptedClient c = new ScriptedClient(proxy.port)) {
                    assertEquals(0, c.call(ScriptedClient.read(1, 0, 4096)).error());
                }
                assertEquals(Integer.valueOf(0), proxy.terminate());
                assertEquals("nothing on stderr when nothing goes wrong", "", proxy.stderr());
            }
        }
    }
}
