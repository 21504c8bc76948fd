package org.flexnbd.itests.e2e;

import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.UnicastRemoteObject;
import java.util.HashMap;
import java.util.Map;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * A JMX client as a separate program, so that a test can run it as another local user (setpriv): it tries one thing
 * against the proxy's connector and prints {@code OK} or {@code REFUSED <exception>} on stdout.
 * Arguments: PORT USER PASSWORD ACTION [ARG...]; USER "-" for no credentials. ACTION is one of read, reconnect,
 * retarget HOST PORT, mlet, dumpheap PATH, rebind.
 */
public final class JmxProbe {
    private JmxProbe() {
    }

    public static void main(String[] args) {
        try {
            run(args);
            System.out.println("OK");
        } catch (Exception | Error e) {
            System.out.println("REFUSED " + e);
        }
    }

    private static void run(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String action = args[3];
        if (action.equals("rebind")) {
            // Put a stub of one's own in the connector's registry, to collect operators' passwords.
            Registry registry = LocateRegistry.getRegistry("127.0.0.1", port);
            Registry decoy = LocateRegistry.createRegistry(0);
            try {
                registry.rebind("jmxrmi", decoy);
            } finally {
                UnicastRemoteObject.unexportObject(decoy, true);
            }
            return;
        }
        Map<String, Object> env = new HashMap<>();
        if (!args[1].equals("-")) {
            env.put(JMXConnector.CREDENTIALS, new String[] {args[1], args[2]});
        }
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + port + "/jmxrmi");
        try (JMXConnector c = JMXConnectorFactory.connect(url, env)) {
            MBeanServerConnection mbs = c.getMBeanServerConnection();
            ObjectName proxy = new ObjectName("flexnbd:type=Proxy");
            switch (action) {
                case "read" -> mbs.getAttribute(proxy, "State");
                case "reconnect" -> mbs.invoke(proxy, "reconnect", null, null);
                case "retarget" -> mbs.invoke(proxy, "retarget", new Object[] {args[4], Integer.parseInt(args[5])},
                        new String[] {"java.lang.String", "int"});
                case "mlet" -> mbs.createMBean("javax.management.loading.MLet", new ObjectName("probe:type=MLet"));
                case "dumpheap" -> mbs.invoke(new ObjectName("com.sun.management:type=HotSpotDiagnostic"),
                        "dumpHeap", new Object[] {args[4], Boolean.TRUE},
                        new String[] {"java.lang.String", "boolean"});
                default -> throw new IllegalArgumentException("no action " + action);
            }
        }
    }
}
