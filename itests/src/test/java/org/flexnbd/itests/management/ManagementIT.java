package org.flexnbd.itests.management;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;
import javax.management.AttributeChangeNotification;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanOperationInfo;
import javax.management.MBeanServer;
import javax.management.MBeanServerConnection;
import javax.management.Notification;
import javax.management.NotificationListener;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.JmxLogin;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.VerifiedIo;
import org.flexnbd.itests.osgi.Await;
import org.flexnbd.itests.osgi.Provisioning;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The management bundle wired by SCR to the real upstream and downstream components, configured through
 * ConfigAdmin against a real nbdkit: the MBean is registered in the platform MBean server, a JMX client reads it
 * over the loopback RMI connector and, while an NBD client writes and reads back verified blocks, reconnects the
 * upstream several times without the client noticing.
 */
@RunWith(PaxExam.class)
public class ManagementIT {
    private static final int BLOCK = VerifiedIo.BLOCK;
    private static final int BLOCKS = 64;
    private static final int RECONNECTS = 3;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void theMBeanReportsTheProxyAndReconnectsItDuringVerifiedIo() throws Exception {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        ObjectName name = new ObjectName("flexnbd:type=Proxy");
        MBeanServer platform = ManagementFactory.getPlatformMBeanServer();
        Path dir = Files.createTempDirectory("management-it");
        int proxyPort = Peer.freePort();
        int jmxPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "memory", "64M").start()) {
            configure("org.flexnbd.upstream", "address", "127.0.0.1", "port", up.port, "timeoutSeconds", 5,
                    "reconnectMaxDelayMillis", 500);
            configure("org.flexnbd.downstream", "address", "127.0.0.1", "port", proxyPort);
            JmxLogin login = new JmxLogin(dir);
            configure("org.flexnbd.management", "jmxPort", jmxPort, "jmxPasswordFile", login.passwordFile.toString(),
                    "jmxAccessFile", login.accessFile.toString());
            Await.until("the MBean is registered", () -> platform.isRegistered(name));
            Peer.awaitPort(proxyPort, 10);
            Peer.awaitPort(jmxPort, 10);

            try (JMXConnector jmx = JmxLogin.connect(jmxPort)) {
                MBeanServerConnection mbsc = jmx.getMBeanServerConnection();
                MBeanInfo info = mbsc.getMBeanInfo(name);
                for (MBeanAttributeInfo a : info.getAttributes()) {
                    assertFalse(a.getName() + " has a description", a.getDescription().isBlank());
                    assertNotNull(a.getName(), mbsc.getAttribute(name, a.getName()));
                }
                for (MBeanOperationInfo o : info.getOperations()) {
                    assertFalse(o.getName() + " has a description", o.getDescription().isBlank());
                }
                Await.until("State is CONNECTED", () -> "CONNECTED".equals(read(mbsc, name, "State")));
                assertEquals("127.0.0.1:" + up.port, mbsc.getAttribute(name, "UpstreamAddress"));
                assertEquals("127.0.0.1:" + proxyPort, mbsc.getAttribute(name, "ListenAddress"));
                assertEquals("", mbsc.getAttribute(name, "ClientAddress"));
                long reconnectsBefore = (Long) mbsc.getAttribute(name, "ReconnectCount");

                BlockingQueue<Notification> notifications = new LinkedBlockingQueue<>();
                NotificationListener listener = (n, handback) -> notifications.add(n);
                mbsc.addNotificationListener(name, listener, null, null);

                try (VerifiedIo io = VerifiedIo.start(proxyPort, BLOCKS)) {
                    Await.until("the client is listed", () -> ((String) read(mbsc, name, "ClientAddress"))
                            .startsWith("127.0.0.1:"));
                    for (int i = 1; i <= RECONNECTS; i++) {
                        mbsc.invoke(name, "reconnect", null, null);
                        long expected = reconnectsBefore + i;
                        Await.until("ReconnectCount reaches " + expected,
                                () -> (Long) read(mbsc, name, "ReconnectCount") >= expected);
                        io.awaitMore(3); // I/O goes on after each reconnect
                    }
                }
                Await.until("State is CONNECTED again", () -> "CONNECTED".equals(read(mbsc, name, "State")));
                assertTrue((Long) mbsc.getAttribute(name, "RequestsRelayed") >= 6);
                assertTrue((Long) mbsc.getAttribute(name, "BytesRelayed") >= 6L * BLOCK);
                Await.until("nothing in flight", () -> Integer.valueOf(0).equals(read(mbsc, name, "InFlightRequests")));
                assertFalse(((String) mbsc.getAttribute(name, "LastFailure")).isEmpty());
                Instant.parse((String) mbsc.getAttribute(name, "LastFailureTime"));

                AttributeChangeNotification counted = null;
                for (Notification n; counted == null && (n = notifications.poll(5, TimeUnit.SECONDS)) != null;) {
                    if (n instanceof AttributeChangeNotification c && c.getAttributeName().equals("ReconnectCount")) {
                        counted = c;
                    }
                }
                assertNotNull("a ReconnectCount notification", counted);
                mbsc.removeNotificationListener(name, listener);
            }

            // Without its configuration the component goes, and so do the MBean and the connector's port.
            cm.getConfiguration("org.flexnbd.management", "?").delete();
            Await.until("the MBean is unregistered", () -> !platform.isRegistered(name));
            Await.until("the JMX port is free", () -> bindable(jmxPort));
        }
    }

    private static Object read(MBeanServerConnection mbsc, ObjectName name, String attribute) {
        try {
            return mbsc.getAttribute(name, attribute);
        } catch (Exception e) {
            throw new AssertionError("reading " + attribute, e);
        }
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void configure(String pid, Object... keysAndValues) throws IOException {
        Dictionary<String, Object> p = new Hashtable<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            p.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        cm.getConfiguration(pid, "?").update(p);
    }
}
