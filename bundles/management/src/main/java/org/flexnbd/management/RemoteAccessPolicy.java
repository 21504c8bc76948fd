package org.flexnbd.management;

import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.security.AccessController;
import java.security.Principal;
import java.util.Set;

import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.remote.JMXPrincipal;
import javax.management.remote.MBeanServerForwarder;
import javax.security.auth.Subject;

/**
 * What a remote JMX client may do, checked before each call reaches the MBean server. Loopback is not a trust
 * boundary, and a JMX client that can create an MBean (an MLet loading a class from a URL), dump the heap or run a
 * diagnostic command runs code or writes files as the proxy's user, so:
 * <ul>
 * <li>for everybody: no MBean is created, registered, unregistered or instantiated, no MBean is made a listener, and
 * nothing is invoked on an MBean that is a class loader;</li>
 * <li>{@link Role#READONLY}: attributes, descriptions, queries and notifications, and the JVM's thread-reading
 * operations (JConsole's Threads tab);</li>
 * <li>{@link Role#READWRITE}: also operations and attribute changes, on the proxy's MBean and the JVM's
 * {@code java.lang} and {@code java.util.logging} ones only: never {@code com.sun.management} (HotSpotDiagnostic's
 * dumpHeap and setVMOption, DiagnosticCommand) nor {@code jdk.management.jfr} (recordings written anywhere).</li>
 * </ul>
 * Implemented as a dynamic proxy of {@link MBeanServerForwarder}: the interface has some fifty methods and the rule
 * depends only on each one's name and target.
 */
final class RemoteAccessPolicy implements InvocationHandler {
    private static final Set<String> REFUSED = Set.of("createMBean", "registerMBean", "unregisterMBean",
            "instantiate", "deserialize");
    /**
     * Asked by the connector itself, outside any client's call, for the class loaders it unmarshals parameters with;
     * a remote client has no way to call these (RMIConnection has no such methods).
     */
    private static final Set<String> CONNECTOR_INTERNAL = Set.of("getClassLoader", "getClassLoaderFor",
            "getClassLoaderRepository");
    private static final Set<String> READING = Set.of("getAttribute", "getAttributes", "getMBeanInfo",
            "getObjectInstance", "queryMBeans", "queryNames", "isRegistered", "getMBeanCount", "getDefaultDomain",
            "getDomains", "isInstanceOf");
    private static final Set<String> WRITABLE_DOMAINS = Set.of("flexnbd", "java.lang", "java.util.logging");
    private static final String THREADING = "java.lang:type=Threading";
    private static final Set<String> THREAD_READING = Set.of("getThreadInfo", "dumpAllThreads",
            "findDeadlockedThreads", "findMonitorDeadlockedThreads", "getThreadCpuTime", "getThreadUserTime",
            "getThreadAllocatedBytes");

    private final AccessRoles roles;
    private volatile MBeanServer mbs;

    private RemoteAccessPolicy(AccessRoles roles) {
        this.roles = roles;
    }

    static MBeanServerForwarder forwarder(AccessRoles roles) {
        return (MBeanServerForwarder) Proxy.newProxyInstance(MBeanServerForwarder.class.getClassLoader(),
                new Class<?>[] {MBeanServerForwarder.class}, new RemoteAccessPolicy(roles));
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        switch (name) {
            case "getMBeanServer":
                return mbs;
            case "setMBeanServer":
                mbs = (MBeanServer) args[0];
                return null;
            case "equals":
                return proxy == args[0];
            case "hashCode":
                return System.identityHashCode(proxy);
            case "toString":
                return "RemoteAccessPolicy";
            default:
                if (!CONNECTOR_INTERNAL.contains(name)) {
                    check(name, args);
                }
        }
        try {
            return method.invoke(mbs, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private void check(String method, Object[] args) throws IOException {
        boolean listenerObject = (method.equals("addNotificationListener")
                || method.equals("removeNotificationListener")) && !(args.length > 1 && args[1] instanceof ObjectName);
        String user = user();
        if (user == null) {
            // The connector's own calls, made outside any client's (its notification forwarder listening to the
            // MBean server delegate): reading only. A client's calls always carry the subject it logged in as.
            if (READING.contains(method) || listenerObject) {
                return;
            }
            throw new SecurityException("access denied: " + method + " without a logged-in user");
        }
        Role role = roles.of(user);
        if (role == null) {
            throw new SecurityException("access denied: user " + user + " has no role in the JMX access file");
        }
        if (REFUSED.contains(method)) {
            throw new SecurityException("access denied: " + method + " is refused to remote JMX clients");
        }
        if (READING.contains(method) || listenerObject) {
            return;
        }
        if (method.endsWith("NotificationListener")) {
            throw new SecurityException("access denied: an MBean cannot be made a listener remotely");
        }
        ObjectName target = args.length > 0 && args[0] instanceof ObjectName n ? n : null;
        if (target == null || !(method.equals("invoke") || method.startsWith("setAttribute"))) {
            throw new SecurityException("access denied: " + method + " is refused to remote JMX clients");
        }
        if (isClassLoader(target)) {
            throw new SecurityException("access denied: " + target + " is a class loader (MLet)");
        }
        if (role == Role.READONLY) {
            if (method.equals("invoke") && target.toString().equals(THREADING)
                    && THREAD_READING.contains(String.valueOf(args[1]))) {
                return;
            }
            throw new SecurityException("access denied: user " + user + " is read-only");
        }
        if (!WRITABLE_DOMAINS.contains(target.getDomain())) {
            throw new SecurityException("access denied: " + method + " on " + target
                    + " is refused to remote JMX clients");
        }
    }

    private boolean isClassLoader(ObjectName target) {
        try {
            return mbs.isInstanceOf(target, ClassLoader.class.getName());
        } catch (Exception e) {
            return false; // not registered: the call itself fails
        }
    }

    /** The name the password file authenticated, from the subject the connector runs each call with. */
    @SuppressWarnings("removal") // the connector still hands the subject over this way in Java 17
    private static String user() {
        Subject subject = Subject.getSubject(AccessController.getContext());
        if (subject == null) {
            return null;
        }
        for (Principal p : subject.getPrincipals(JMXPrincipal.class)) {
            return p.getName();
        }
        return null;
    }
}
