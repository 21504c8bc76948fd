package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.regex.Pattern;

import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * An operator's JMX client (this JVM, over RMI) against the appliance started with --jmx-port: it reads the MBean's
 * attributes and calls reconnect() while nbdcopy runs through the proxy, whose data then checks out.
 */
public class JmxIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path shm;

    @Before
    public void tools() throws Exception {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        E2E.assumeTool("nbdcopy");
        shm = E2E.shm("flexnbd-jmx");
    }

    @After
    public void clean() throws Exception {
        E2E.deleteTree(shm);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] both = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }

    @Test
    public void attributesAndAReconnectDuringACopy() throws Exception {
        Path dir = tmp.getRoot().toPath();
        int jmxPort = Peer.freePort();
        Path src = E2E.randomFile(shm, "src.img", 512L << 20);
        Path back = shm.resolve("back.img");
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "--filter=rate", "memory", "512M",
                "rate=1600M").start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), concat(new String[] {"-C", "127.0.0.1", "-P",
                        Integer.toString(up.port)}, new JmxLogin(dir).flags(jmxPort)));
                JMXConnector jmx = JmxLogin.connect(jmxPort)) {
            MBeanServerConnection mbs = jmx.getMBeanServerConnection();
            ObjectName proxyName = new ObjectName("flexnbd:type=Proxy");
            assertEquals("CONNECTED", mbs.getAttribute(proxyName, "State"));
            assertEquals("127.0.0.1:" + up.port, mbs.getAttribute(proxyName, "UpstreamAddress"));
            assertEquals("", mbs.getAttribute(proxyName, "ClientAddress"));
            MBeanInfo info = mbs.getMBeanInfo(proxyName);
            for (MBeanAttributeInfo a : info.getAttributes()) {
                assertFalse("a description for " + a.getName(), a.getDescription() == null
                        || a.getDescription().isBlank() || a.getDescription().equals(a.getName()));
            }

            try (Peer copy = Peer.start(dir, "nbdcopy", "nbdcopy", src.toString(), proxy.uri())) {
                long deadline = System.currentTimeMillis() + 10_000;
                while (((String) mbs.getAttribute(proxyName, "ClientAddress")).isEmpty()
                        && System.currentTimeMillis() < deadline) {
                    Thread.sleep(20);
                }
                assertTrue("the copy's client is shown", ((String) mbs.getAttribute(proxyName, "ClientAddress"))
                        .startsWith("127.0.0.1:"));
                for (int i = 0; i < 3; i++) {
                    Thread.sleep(300);
                    // Each after the one before has taken effect: a reconnect asked for while the link is still
                    // making the last one (writing the journal again) has nothing to drop.
                    long before = (Long) mbs.getAttribute(proxyName, "ReconnectCount");
                    mbs.invoke(proxyName, "reconnect", new Object[0], new String[0]);
                    long until = System.currentTimeMillis() + 5_000;
                    while ((Long) mbs.getAttribute(proxyName, "ReconnectCount") == before
                            && System.currentTimeMillis() < until) {
                        Thread.sleep(20);
                    }
                }
                assertEquals("nbdcopy: " + copy.stderr(), Integer.valueOf(0), copy.waitFor(120));
            }
            assertTrue((Long) mbs.getAttribute(proxyName, "ReconnectCount") >= 3);
            assertTrue((Long) mbs.getAttribute(proxyName, "RequestsRelayed") > 0);
            try (Peer read = Peer.run(dir, "nbdcopy", 120, "nbdcopy", up.uri(), back.toString())) {
                assertEquals(read.stderr(), 0, read.exitStatus());
            }
            assertEquals(E2E.sha256(src), E2E.sha256(back));
        }
    }
    /**
     * The state of a connector that replaced another while the upstream was down, with no client: it used to have no
     * connection at all until a client came, and showed CONNECTED with no failure, the upstream down (a hostile
     * tester). Now it connects at once, shows RECONNECTING until the upstream is back, then CONNECTED.
     */
    @Test
    public void aConnectorStartedDuringAnOutageShowsItBeforeAnyClientComes() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        int jmxPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), concat(new String[] {"-C", "127.0.0.1",
                        "-P", Integer.toString(up.port), "-v"}, new JmxLogin(dir).flags(jmxPort)));
                JMXConnector jmx = JmxLogin.connect(jmxPort)) {
            MBeanServerConnection mbs = jmx.getMBeanServerConnection();
            ObjectName proxyName = new ObjectName("flexnbd:type=Proxy");
            up.kill9();
            assertEquals("RECONNECTING", awaitState(mbs, proxyName, "RECONNECTING"));
            // The new connector's first try, logged as attempt 1: the old one's are long past theirs.
            Pattern firstTry = Pattern.compile("attempt 1 failed");
            long before = firstTry.matcher(proxy.awaitStderr(l -> firstTry.matcher(l).find(), 20)).results().count();
            E2E.editConfig(home, "org.flexnbd.upstream", "reconnectMaxDelayMillis", 500);
            String log = proxy.awaitStderr(l -> firstTry.matcher(l).results().count() > before, 20);
            assertTrue("the new connector did not try to connect\n" + log,
                    firstTry.matcher(log).results().count() > before);
            assertEquals("RECONNECTING", mbs.getAttribute(proxyName, "State"));
            assertFalse(((String) mbs.getAttribute(proxyName, "LastFailure")).isEmpty());
            up.start();
            assertEquals("CONNECTED", awaitState(mbs, proxyName, "CONNECTED"));
        }
    }

    /** The State attribute once it is {@code wanted}, or as it is after 15 s. */
    private static String awaitState(MBeanServerConnection mbs, ObjectName name, String wanted) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        String state = (String) mbs.getAttribute(name, "State");
        while (!state.equals(wanted) && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
            state = (String) mbs.getAttribute(name, "State");
        }
        return state;
    }
}
