package org.flexnbd.itests.management;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import javax.inject.Inject;
import javax.management.MBeanServer;
import javax.management.MBeanServerConnection;
import javax.management.MBeanServerDelegate;
import javax.management.MBeanServerNotification;
import javax.management.NotificationListener;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.JmxLogin;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.ScriptedClient;
import org.flexnbd.itests.osgi.Await;
import org.flexnbd.itests.osgi.Provisioning;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * Hot updates around the MBean (its own class: updates must not disturb other tests' framework). An update of the
 * upstream bundle leaves the MBean registered, and it goes on to report and drive the new Upstream service; an
 * update of the management bundle itself unregisters and registers it again, and the new connector gets the same
 * JMX port back.
 */
@RunWith(PaxExam.class)
public class ManagementHotUpdateIT {
    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void theMBeanOutlivesAnUpstreamUpdateAndComesBackAfterItsOwn() throws Exception {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        ObjectName name = new ObjectName("flexnbd:type=Proxy");
        MBeanServer platform = ManagementFactory.getPlatformMBeanServer();
        Path dir = Files.createTempDirectory("management-hot-update");
        int jmxPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "memory", "16M").start()) {
            configure("org.flexnbd.upstream", "address", "127.0.0.1", "port", up.port, "timeoutSeconds", 5,
                    "reconnectMaxDelayMillis", 500);
            int proxyPort = Peer.freePort();
            configure("org.flexnbd.downstream", "address", "127.0.0.1", "port", proxyPort);
            JmxLogin login = new JmxLogin(dir);
            configure("org.flexnbd.management", "jmxPort", jmxPort, "jmxPasswordFile", login.passwordFile.toString(),
                    "jmxAccessFile", login.accessFile.toString());
            Await.until("the MBean is registered", () -> platform.isRegistered(name));
            Peer.awaitPort(jmxPort, 10);

            List<String> registrations = new CopyOnWriteArrayList<>();
            NotificationListener watch = (n, h) -> {
                if (n instanceof MBeanServerNotification m && m.getMBeanName().equals(name)) {
                    registrations.add(m.getType());
                }
            };
            platform.addNotificationListener(MBeanServerDelegate.DELEGATE_NAME, watch, null, null);
            try {
                Peer.awaitPort(proxyPort, 10);
                try (JMXConnector jmx = JmxLogin.connect(jmxPort);
                        ScriptedClient client = new ScriptedClient(proxyPort)) {
                    MBeanServerConnection mbsc = jmx.getMBeanServerConnection();
                    Await.until("State is CONNECTED", () -> "CONNECTED".equals(read(mbsc, name, "State")));
                    assertEquals(0, client.call(ScriptedClient.read(1, 0, 4096)).error());

                    update("flexnbd-upstream");
                    // The client's session takes a connection from the new upstream service.
                    assertEquals(0, client.call(ScriptedClient.read(2, 4096, 4096)).error());
                    // The new upstream component connects afresh; the MBean, never unregistered, follows it.
                    Await.until("State is CONNECTED through the new upstream",
                            () -> "CONNECTED".equals(read(mbsc, name, "State")));
                    assertEquals("127.0.0.1:" + up.port, mbsc.getAttribute(name, "UpstreamAddress"));
                    long before = (Long) mbsc.getAttribute(name, "ReconnectCount");
                    mbsc.invoke(name, "reconnect", null, null);
                    Await.until("the new upstream counts the reconnect",
                            () -> (Long) read(mbsc, name, "ReconnectCount") > before);
                    assertEquals(0, client.call(ScriptedClient.read(3, 8192, 4096)).error());
                    assertEquals("no unregistration during the upstream update", List.of(), registrations);
                }

                update("flexnbd-management");
                Await.until("the MBean is unregistered and registered again",
                        () -> registrations.equals(List.of(MBeanServerNotification.UNREGISTRATION_NOTIFICATION,
                                MBeanServerNotification.REGISTRATION_NOTIFICATION)));
                Peer.awaitPort(jmxPort, 10);
                try (JMXConnector jmx = JmxLogin.connect(jmxPort)) {
                    MBeanServerConnection mbsc = jmx.getMBeanServerConnection();
                    Await.until("State is CONNECTED after the management update",
                            () -> "CONNECTED".equals(read(mbsc, name, "State")));
                    assertEquals("127.0.0.1:" + up.port, mbsc.getAttribute(name, "UpstreamAddress"));
                }
                assertTrue(platform.isRegistered(name));
            } finally {
                platform.removeNotificationListener(MBeanServerDelegate.DELEGATE_NAME, watch);
            }
        }
    }

    private void update(String symbolicName) throws Exception {
        Bundle b = Provisioning.find(context, symbolicName);
        try (InputStream in = Files.newInputStream(Provisioning.jar(symbolicName))) {
            b.update(in);
        }
        Await.until(symbolicName + " is active again", () -> b.getState() == Bundle.ACTIVE);
    }

    private static Object read(MBeanServerConnection mbsc, ObjectName name, String attribute) {
        try {
            return mbsc.getAttribute(name, attribute);
        } catch (Exception e) {
            throw new AssertionError("reading " + attribute, e);
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
