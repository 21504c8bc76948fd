package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * No JMX connector without a password file nobody else can read, whether flags or config/ ask for one; a file named
 * on the command line that cannot be used stops the start (exit 2), as ssh refuses such a key file.
 */
public class JmxRefusedIT {
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
    public void aJmxPortWithoutAPasswordFileIsAUsageError() throws Exception {
        try (Peer p = Proxy.launch(dir(), "--demo", "-p", Integer.toString(Peer.freePort()), "--jmx-port",
                Integer.toString(Peer.freePort()))) {
            assertEquals(p.stderr(), Integer.valueOf(2), p.waitFor(30));
            assertTrue(p.stderr(), p.stderr().contains("--jmx-port needs --jmx-password-file"));
        }
    }

    @Test
    public void aPasswordFileOthersCanReadOnTheCommandLineStopsTheStart() throws Exception {
        Path passwords = privateFile("jmx.password", "admin adminpw\n", "rw-r--r--");
        int jmxPort = Peer.freePort();
        int port = Peer.freePort();
        try (Peer p = Proxy.launch(dir(), "--demo", "-p", Integer.toString(port), "--jmx-port",
                Integer.toString(jmxPort), "--jmx-password-file", passwords.toString())) {
            assertEquals(p.stderr(), Integer.valueOf(2), p.waitFor(30));
            assertTrue(p.stderr(), p.stderr().lines().anyMatch(l -> l.startsWith("F:")
                    && l.contains("--jmx-password-file " + passwords + ": other users can read or write it")));
            assertNothingListens(port);
        }
    }

    @Test
    public void aMissingPasswordFileOrAnAccessFileOthersCanWriteStopsTheStart() throws Exception {
        Path passwords = privateFile("jmx.password", "admin adminpw\n", "rw-------");
        Path access = privateFile("jmx.access", "admin readwrite\n", "rw--w----");
        Path missing = dir().resolve("no.such.file");
        String jmxPort = Integer.toString(Peer.freePort());
        try (Peer p = Proxy.launch(dir(), "--demo", "-p", Integer.toString(Peer.freePort()), "--jmx-port", jmxPort,
                "--jmx-password-file", missing.toString())) {
            assertEquals(p.stderr(), Integer.valueOf(2), p.waitFor(30));
            assertTrue(p.stderr(), p.stderr().contains("F:") && p.stderr().contains(missing + ": no such file"));
        }
        try (Peer p = Proxy.launch(dir(), "--demo", "-p", Integer.toString(Peer.freePort()), "--jmx-port", jmxPort,
                "--jmx-password-file", passwords.toString(), "--jmx-access-file", access.toString())) {
            assertEquals(p.stderr(), Integer.valueOf(2), p.waitFor(30));
            assertTrue(p.stderr(), p.stderr().contains("--jmx-access-file " + access + ": other users"));
        }
    }

    /** Named in config/ rather than on the command line, such a file is logged E and the proxy runs without JMX. */
    @Test
    public void aPasswordFileOthersCanReadInConfigOpensNoConnector() throws Exception {
        Path passwords = privateFile("jmx.password", "admin adminpw\n", "rw-r--r--");
        Path home = E2E.copyOfTheDistribution(dir().resolve("home"));
        int jmxPort = Peer.freePort();
        int port = Peer.freePort();
        Files.writeString(home.resolve("config/org.flexnbd.management.cfg"),
                "jmxPort=" + jmxPort + "\njmxPasswordFile=" + passwords + "\n");
        try (Peer p = Peer.start(dir(), "proxy", home.resolve("bin/flexnbd-proxy").toString(), "--demo", "-p",
                Integer.toString(port))) {
            Peer.awaitPort(port, 20);
            long deadline = System.currentTimeMillis() + 10_000;
            while (!p.stderr().contains("E:") && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(p.stderr(), p.stderr().lines().anyMatch(l -> l.startsWith("E:")
                    && l.contains("other users can read or write it")));
            assertNothingListens(jmxPort);
        }
    }

    private Path privateFile(String name, String text, String mode) throws IOException {
        Path p = Files.writeString(dir().resolve(name), text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    private static void assertNothingListens(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            fail("something listens on " + port);
        } catch (IOException expected) {
            // nothing listens
        }
    }

    @Test
    public void aJmxPortInConfigWithoutAPasswordFileOpensNoConnector() throws Exception {
        Path home = E2E.copyOfTheDistribution(dir().resolve("home"));
        int jmxPort = Peer.freePort();
        Files.writeString(home.resolve("config/org.flexnbd.management.cfg"), "jmxPort=" + jmxPort + "\n");
        try (Peer p = Peer.start(dir(), "proxy", home.resolve("bin/flexnbd-proxy").toString(), "--demo", "-p",
                Integer.toString(Peer.freePort()))) {
            Integer status = p.waitFor(30);
            assertEquals(p.stderr(), Integer.valueOf(2), status);
            assertTrue(p.stderr(), p.stderr().contains("jmxPasswordFile"));
        }
    }
}
