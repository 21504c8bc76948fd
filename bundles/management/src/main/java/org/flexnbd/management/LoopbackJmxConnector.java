package org.flexnbd.management;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.rmi.NoSuchObjectException;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.RMIServerSocketFactory;
import java.rmi.server.UnicastRemoteObject;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

import javax.management.MBeanServer;
import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXServiceURL;
import javax.management.remote.rmi.RMIConnectorServer;
import javax.management.remote.rmi.RMIJRMPServerImpl;

/**
 * A JMX RMI connector reachable at {@code service:jmx:rmi:///jndi/rmi://127.0.0.1:PORT/jmxrmi}: an RMI registry and
 * the connector's RMI server share the one port, both listening on 127.0.0.1 only. Every local user reaches that
 * port, so clients must log in (the password file), each call is checked against the user's role and the
 * {@link RemoteAccessPolicy}, and connections are bounded in number and in idle time. The connector's stub is bound in
 * the registry directly (as the JDK's own management agent does), so no JNDI provider has to be found from inside
 * the OSGi framework. {@link #close()} unexports both, which closes the listening socket and frees the port.
 */
final class LoopbackJmxConnector implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(LoopbackJmxConnector.class.getName());

    static final String BINDING = "jmxrmi";
    private static final String HOSTNAME_PROPERTY = "java.rmi.server.hostname";
    private static final InetAddress LOOPBACK = loopback();

    private final int port;
    private final Registry registry;
    private final RMIConnectorServer server;
    private final LoopbackServerSockets sockets;

    private LoopbackJmxConnector(int port, Registry registry, RMIConnectorServer server,
            LoopbackServerSockets sockets) {
        this.port = port;
        this.registry = registry;
        this.server = server;
        this.sockets = sockets;
    }

    /** The URL clients use, the form JConsole's host:port field expects. */
    static String url(int port) {
        return "service:jmx:rmi:///jndi/rmi://127.0.0.1:" + port + "/" + BINDING;
    }

    String url() {
        return url(port);
    }

    /** Opens the registry and the connector on {@code port}; throws with the reason, leaving nothing open. */
    static LoopbackJmxConnector open(int port, MBeanServer mbs, PasswordAuthenticator authenticator,
            AccessRoles roles, ConnectionLimits limits) throws IOException {
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("JMX port " + port + " is not in 1-65535");
        }
        authenticator.check();
        roles.check();
        stubsOnLoopback();
        LoopbackServerSockets sockets = new LoopbackServerSockets(limits);
        Thread thread = Thread.currentThread();
        ClassLoader was = thread.getContextClassLoader();
        // RMI remembers the context class loader of the thread that exports an object and unmarshals incoming
        // calls with it: let that be this bundle's loader, which imports the javax.management packages.
        thread.setContextClassLoader(LoopbackJmxConnector.class.getClassLoader());
        Registry registry = null;
        RMIConnectorServer server = null;
        try {
            registry = LocateRegistry.createRegistry(port, null, sockets);
            Map<String, Object> env = new HashMap<>();
            env.put(RMIConnectorServer.RMI_SERVER_SOCKET_FACTORY_ATTRIBUTE, sockets);
            env.put(JMXConnectorServerFactory.DEFAULT_CLASS_LOADER, LoopbackJmxConnector.class.getClassLoader());
            env.put(JMXConnectorServer.AUTHENTICATOR, authenticator);
            // No URL path: the stub is not bound through JNDI by the server itself but in the registry below.
            RMIJRMPServerImpl rmiServer = new RMIJRMPServerImpl(port, null, sockets, env);
            server = new RMIConnectorServer(new JMXServiceURL("rmi", "127.0.0.1", port), env, rmiServer, mbs);
            server.setMBeanServerForwarder(RemoteAccessPolicy.forwarder(roles));
            server.start();
            registry.bind(BINDING, rmiServer.toStub());
            return new LoopbackJmxConnector(port, registry, server, sockets);
        } catch (Exception e) {
            stopQuietly(server);
            unexportQuietly(registry);
            sockets.closeAccepted();
            if (e instanceof IOException io) {
                throw io;
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(Reasons.of(e));
        } finally {
            thread.setContextClassLoader(was);
        }
    }

    /**
     * An RMI stub tells its clients to connect to {@code java.rmi.server.hostname}, or else to the address this host's
     * name resolves to, which may not be 127.0.0.1 (Debian maps it to 127.0.1.1; elsewhere it is an external
     * address), and the connector listens on 127.0.0.1 only. There is no per-object setting, so in that case only, and
     * only when nobody has set it, this sets the JVM-wide property to 127.0.0.1.
     */
    private static void stubsOnLoopback() {
        String set = System.getProperty(HOSTNAME_PROPERTY);
        if (set != null) {
            if (!set.equals("127.0.0.1") && !set.equals("localhost")) {
                LOG.warning(HOSTNAME_PROPERTY + "=" + set + ": JMX clients will be sent there, but the JMX"
                        + " connector listens on 127.0.0.1 only");
            }
            return;
        }
        String local;
        try {
            local = InetAddress.getLocalHost().getHostAddress();
        } catch (UnknownHostException e) {
            local = null;
        }
        if (!"127.0.0.1".equals(local)) {
            System.setProperty(HOSTNAME_PROPERTY, "127.0.0.1");
            LOG.info("set " + HOSTNAME_PROPERTY + "=127.0.0.1 (this host's name resolves to " + local
                    + "), so that JMX clients connect to the loopback connector");
        }
    }

    @Override
    public void close() {
        try {
            registry.unbind(BINDING);
        } catch (Exception e) {
            // unexported below either way
        }
        stopQuietly(server);
        unexportQuietly(registry);
        sockets.closeAccepted();
        awaitPortFree();
    }

    /**
     * The listening socket is closed by RMI's accept thread once it has been woken, a moment after the unexport has
     * returned; wait (briefly) for that, so that a connector activated right after this one can have the port.
     */
    private void awaitPortFree() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (true) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(new InetSocketAddress(LOOPBACK, port));
                return;
            } catch (IOException e) {
                if (System.nanoTime() - deadline > 0) {
                    LOG.warning("127.0.0.1:" + port + " still in use after closing the JMX connector: " + Reasons.of(e));
                    return;
                }
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void stopQuietly(RMIConnectorServer server) {
        if (server != null) {
            try {
                server.stop();
            } catch (IOException e) {
                LOG.warning("stopping the JMX connector: " + Reasons.of(e));
            }
        }
    }

    private static void unexportQuietly(Registry registry) {
        if (registry != null) {
            try {
                UnicastRemoteObject.unexportObject(registry, true);
            } catch (NoSuchObjectException e) {
                // not exported
            }
        }
    }

    private static InetAddress loopback() {
        try {
            return InetAddress.getByAddress("127.0.0.1", new byte[] {127, 0, 0, 1});
        } catch (UnknownHostException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Server sockets on 127.0.0.1 only. One instance serves both the registry and the connector (RMI puts exports with
     * equal factories on one listening socket; each connector has its own instance, equal only to itself). It keeps
     * the connections it accepted: RMI leaves an idle client connection open after everything is unexported, and
     * closing them is what frees the port while a JMX client is still connected.
     * <p>
     * RMI gives every connection a thread of its own and keeps an idle one for two hours, so anyone who can reach the
     * port could make threads without end (3000 idle connections took 230 MiB). Here a connection past
     * {@link ConnectionLimits#maxConnections()} is closed as soon as it is accepted, and an accepted one is closed by
     * RMI once it has been idle {@link ConnectionLimits#idleMillis()}: RMI sets its read timeouts through
     * {@link Socket#setSoTimeout}, which these sockets cap.
     */
    static final class LoopbackServerSockets implements RMIServerSocketFactory {
        private final Set<Socket> accepted = ConcurrentHashMap.newKeySet();
        private final ConnectionLimits limits;
        private final AtomicLong refused = new AtomicLong();

        LoopbackServerSockets(ConnectionLimits limits) {
            this.limits = limits;
        }

        @Override
        public ServerSocket createServerSocket(int port) throws IOException {
            return new ServerSocket(port, 50, LOOPBACK) {
                @Override
                public Socket accept() throws IOException {
                    while (true) {
                        Socket s = new IdleCappedSocket(limits.idleMillis());
                        implAccept(s);
                        accepted.removeIf(Socket::isClosed);
                        if (accepted.size() < limits.maxConnections()) {
                            s.setSoTimeout(limits.idleMillis());
                            accepted.add(s);
                            return s;
                        }
                        s.close();
                        long n = refused.incrementAndGet();
                        if (Long.bitCount(n) == 1) { // 1, 2, 4, 8...: a flood makes a few lines, not one each
                            LOG.warning("JMX connection refused: " + limits.maxConnections()
                                    + " already open (" + n + " refused so far)");
                        }
                    }
                }
            };
        }

        void closeAccepted() {
            for (Socket s : accepted) {
                try {
                    s.close();
                } catch (IOException e) {
                    // closed either way
                }
            }
            accepted.clear();
        }
    }

    /** A socket whose read timeout is never longer than the idle bound (nor infinite), whatever RMI asks for. */
    private static final class IdleCappedSocket extends Socket {
        private final int idleMillis;

        IdleCappedSocket(int idleMillis) {
            this.idleMillis = idleMillis;
        }

        @Override
        public synchronized void setSoTimeout(int timeout) throws java.net.SocketException {
            super.setSoTimeout(timeout == 0 ? idleMillis : Math.min(timeout, idleMillis));
        }
    }
}
