package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The JMX connector of the real distribution against a hostile local user: a JMX client run as {@code nobody}
 * (setpriv) while the proxy runs as root, and idle connections by the thousand.
 */
public class JmxSecurityIT {
    private static final ObjectName PROXY = name("flexnbd:type=Proxy");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Nbdkit up;
    private Proxy proxy;
    private int jmxPort;
    private Path passwordFile;
    private Path accessFile;

    private static ObjectName name(String n) {
        try {
            return new ObjectName(n);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    private Path dir() {
        return tmp.getRoot().toPath();
    }

    private static Path privateFile(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    @Before
    public void start() throws Exception {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        AsNobody.assume();
        passwordFile = privateFile(dir().resolve("jmx.password"), "admin adminpw\nmonitor monitorpw\n");
        accessFile = privateFile(dir().resolve("jmx.access"), "admin readwrite\nmonitor readonly\n");
        up = new Nbdkit(dir(), Peer.freePort(), "memory", "64M").start();
        jmxPort = Peer.freePort();
        proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P", Integer.toString(up.port), "-v",
                "--jmx-port", Integer.toString(jmxPort), "--jmx-password-file", passwordFile.toString(),
                "--jmx-access-file", accessFile.toString());
        Peer.awaitPort(jmxPort, 20);
    }

    @After
    public void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (up != null) {
            up.close();
        }
    }

    private String probe(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of(Integer.toString(jmxPort)));
        a.addAll(List.of(args));
        return AsNobody.jmx(dir(), a.toArray(new String[0]));
    }

    private static void assertRefused(String what, String outcome) {
        assertTrue(what + ": " + outcome, outcome.startsWith("REFUSED java.lang.SecurityException")
                || outcome.startsWith("REFUSED java.rmi."));
    }

    private JMXConnector login(String user, String password) throws IOException {
        return JMXConnectorFactory.connect(new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort
                + "/jmxrmi"), Map.of(JMXConnector.CREDENTIALS, new String[] {user, password}));
    }

    @Test
    public void aLocalUserWithoutAPasswordGetsNothing() throws Exception {
        assertRefused("no credentials", probe("-", "-", "read"));
        assertRefused("a wrong password", probe("admin", "guess", "read"));
        assertRefused("retarget with a wrong password", probe("admin", "guess", "retarget", "127.0.0.1", "1"));
        assertRefused("an MLet without credentials", probe("-", "-", "mlet"));
        assertTrue("the registry's jmxrmi cannot be replaced", probe("-", "-", "rebind").startsWith("REFUSED"));
        try (JMXConnector c = login("admin", "adminpw")) {
            MBeanServerConnection mbs = c.getMBeanServerConnection();
            assertEquals("127.0.0.1:" + up.port, mbs.getAttribute(PROXY, "UpstreamAddress"));
        }
        assertTrue(proxy.stderr(), proxy.stderr().contains("JMX authentication failed"));
    }

    @Test
    public void rolesDecideAndDangerousOperationsAreRefusedToEveryone() throws Exception {
        assertEquals("OK", probe("monitor", "monitorpw", "read"));
        assertRefused("reconnect() by a read-only user", probe("monitor", "monitorpw", "reconnect"));
        Path dump = dir().resolve("heap.hprof");
        assertRefused("MLet for read-write", probe("admin", "adminpw", "mlet"));
        assertRefused("dumpHeap for read-write", probe("admin", "adminpw", "dumpheap", dump.toString()));
        assertFalse(Files.exists(dump));
        try (JMXConnector c = login("admin", "adminpw")) {
            MBeanServerConnection mbs = c.getMBeanServerConnection();
            long before = (Long) mbs.getAttribute(PROXY, "ReconnectCount");
            assertEquals("OK", probe("admin", "adminpw", "reconnect"));
            long deadline = System.currentTimeMillis() + 10_000;
            while ((Long) mbs.getAttribute(PROXY, "ReconnectCount") == before
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            assertTrue("a read-write user's reconnect() happened",
                    (Long) mbs.getAttribute(PROXY, "ReconnectCount") > before);
        }
    }

    @Test
    public void aThousandIdleConnectionsDoNotMakeAThousandThreads() throws Exception {
        int before = threads(proxy.process.pid());
        List<Socket> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 1000; i++) {
                Socket s = new Socket();
                idle.add(s);
                s.connect(new InetSocketAddress("127.0.0.1", jmxPort), 5000);
            }
            Thread.sleep(1000);
            int during = threads(proxy.process.pid());
            assertTrue("threads went from " + before + " to " + during, during <= before + 30);
        } finally {
            for (Socket s : idle) {
                s.close();
            }
        }
    }

    /** The number of threads of a process, as the kernel counts them. */
    private static int threads(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Threads:")) {
                return Integer.parseInt(line.substring("Threads:".length()).trim());
            }
        }
        throw new AssertionError("no thread count for " + pid);
    }
}
