package org.flexnbd.management;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The connector's locks, tried with a real JMX client over RMI as an attacker on the same machine would. */
public class JmxSecurityTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final FakeUpstream upstream = new FakeUpstream();
    private JmxFiles files;
    private int port;
    private ManagementComponent component;

    @Before
    public void activate() throws IOException {
        files = new JmxFiles(tmp.getRoot().toPath());
        port = ManagementComponentTest.freePort();
        component = new ManagementComponent(JmxFiles.config(port, files.passwordFile.toString(),
                files.accessFile.toString(), 8, 2));
        component.bindUpstream(upstream);
    }

    @After
    public void deactivate() {
        if (component != null) {
            component.deactivate();
        }
    }

    private void expectRefused(String what, ThrowingRunnable call) throws Exception {
        try {
            call.run();
            fail(what + " was allowed");
        } catch (SecurityException expected) {
            // refused
        }
    }

    @Test
    public void withoutCredentialsOrWithAWrongPasswordNobodyGetsIn() throws Exception {
        expectRefused("no credentials", () -> javax.management.remote.JMXConnectorFactory
                .connect(new javax.management.remote.JMXServiceURL(LoopbackJmxConnector.url(port))).close());
        expectRefused("a wrong password", () -> JmxFiles.login(port, JmxFiles.ADMIN, "guess").close());
        expectRefused("another user's password",
                () -> JmxFiles.login(port, JmxFiles.ADMIN, JmxFiles.MONITOR_PASSWORD).close());
        expectRefused("an unknown user", () -> JmxFiles.login(port, "root", JmxFiles.ADMIN_PASSWORD).close());
    }

    @Test
    public void aReadOnlyUserReadsButCannotReconnect() throws Exception {
        try (JMXConnector c = JmxFiles.login(port, JmxFiles.MONITOR, JmxFiles.MONITOR_PASSWORD)) {
            MBeanServerConnection mbsc = c.getMBeanServerConnection();
            assertEquals("CONNECTED", mbsc.getAttribute(ProxyManagement.NAME, "State"));
            expectRefused("reconnect() by a read-only user",
                    () -> mbsc.invoke(ProxyManagement.NAME, "reconnect", null, null));
            expectRefused("retarget() by a read-only user", () -> mbsc.invoke(ProxyManagement.NAME, "retarget",
                    new Object[] {"127.0.0.1", 1}, new String[] {"java.lang.String", "int"}));
            // JConsole's Threads tab still works
            mbsc.invoke(new ObjectName("java.lang:type=Threading"), "findDeadlockedThreads", null, null);
        }
        assertTrue(upstream.calls().isEmpty());
        try (JMXConnector c = JmxFiles.login(port, JmxFiles.ADMIN, JmxFiles.ADMIN_PASSWORD)) {
            c.getMBeanServerConnection().invoke(ProxyManagement.NAME, "reconnect", null, null);
        }
        assertEquals(List.of("reconnect"), upstream.calls());
    }

    @Test
    public void noMLetNoHeapDumpNoDiagnosticCommandEvenForReadWrite() throws Exception {
        Path dump = tmp.getRoot().toPath().resolve("heap.hprof");
        try (JMXConnector c = JmxFiles.login(port, JmxFiles.ADMIN, JmxFiles.ADMIN_PASSWORD)) {
            MBeanServerConnection mbsc = c.getMBeanServerConnection();
            ObjectName mlet = new ObjectName("flexnbd:type=Evil");
            expectRefused("createMBean(MLet)",
                    () -> mbsc.createMBean("javax.management.loading.MLet", mlet));
            assertFalse(ManagementFactory.getPlatformMBeanServer().isRegistered(mlet));
            // One registered locally (say by another bundle) is not handed to remote callers either.
            ManagementFactory.getPlatformMBeanServer().registerMBean(
                    new javax.management.loading.MLet(new URL[0]), mlet);
            try {
                expectRefused("MLet.getMBeansFromURL", () -> mbsc.invoke(mlet, "getMBeansFromURL",
                        new Object[] {"file:" + tmp.getRoot() + "/x.mlet"}, new String[] {"java.lang.String"}));
            } finally {
                ManagementFactory.getPlatformMBeanServer().unregisterMBean(mlet);
            }
            expectRefused("HotSpotDiagnostic.dumpHeap", () -> mbsc.invoke(
                    new ObjectName("com.sun.management:type=HotSpotDiagnostic"), "dumpHeap",
                    new Object[] {dump.toString(), true}, new String[] {"java.lang.String", "boolean"}));
            expectRefused("DiagnosticCommand", () -> mbsc.invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmSystemProperties", null, null));
            expectRefused("unregisterMBean", () -> mbsc.unregisterMBean(ProxyManagement.NAME));
        }
        assertFalse(Files.exists(dump));
    }

    @Test
    public void noPasswordFileOrAReadablePasswordFileOpensNoConnector() throws Exception {
        component.deactivate();
        component = null;
        for (String passwordFile : new String[] {"", readableCopy().toString(), "relative/jmx.password"}) {
            ManagementComponent c = new ManagementComponent(JmxFiles.config(port, passwordFile, "", 8, 60));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                fail("a connector was opened with password file '" + passwordFile + "'");
            } catch (IOException expected) {
                // nothing listens
            } finally {
                c.deactivate();
            }
        }
    }

    private Path readableCopy() throws IOException {
        Path copy = tmp.getRoot().toPath().resolve("readable.password");
        Files.copy(files.passwordFile, copy);
        Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
        return copy;
    }

    @Test
    public void idleConnectionsAreBoundedInNumberAndTime() throws Exception {
        int before = rmiConnectionThreads();
        List<Socket> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 300; i++) {
                Socket s = new Socket();
                idle.add(s);
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            }
            Thread.sleep(500);
            int during = rmiConnectionThreads();
            assertTrue("RMI connection threads went from " + before + " to " + during, during <= before + 8);
            // and an idle connection is closed by the connector after jmxIdleSeconds (2 here)
            Socket first = idle.get(0);
            first.setSoTimeout(10_000);
            long start = System.nanoTime();
            assertEquals("the idle connection is closed", -1, first.getInputStream().read());
            assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) < 9000);
        } finally {
            for (Socket s : idle) {
                s.close();
            }
        }
        // with the idle ones gone, a real client gets in again
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (JMXConnector c = JmxFiles.login(port, JmxFiles.MONITOR, JmxFiles.MONITOR_PASSWORD)) {
                assertEquals("CONNECTED", c.getMBeanServerConnection().getAttribute(ProxyManagement.NAME, "State"));
                return;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) {
                    throw notYet;
                }
                Thread.sleep(200);
            }
        }
    }

    private static int rmiConnectionThreads() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("RMI TCP Connection")) {
                n++;
            }
        }
        return n;
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
