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

/** No JMX connector without a password file nobody else can read, whether flags or config/ ask for one. */
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
    public void aPasswordFileOthersCanReadOpensNoConnector() throws Exception {
        Path passwords = dir().resolve("jmx.password");
        Files.writeString(passwords, "admin adminpw\n");
        Files.setPosixFilePermissions(passwords, PosixFilePermissions.fromString("rw-r--r--"));
        int jmxPort = Peer.freePort();
        int port = Peer.freePort();
        try (Peer p = Proxy.launch(dir(), "--demo", "-p", Integer.toString(port), "--jmx-port",
                Integer.toString(jmxPort), "--jmx-password-file", passwords.toString())) {
            Peer.awaitPort(port, 20);
            long deadline = System.currentTimeMillis() + 10_000;
            while (!p.stderr().contains("E:") && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(p.stderr(), p.stderr().lines().anyMatch(l -> l.startsWith("E:")
                    && l.contains("other users can read or write it")));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", jmxPort), 1000);
                fail("a JMX connector listens with a world-readable password file");
            } catch (IOException expected) {
                // nothing listens
            }
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
