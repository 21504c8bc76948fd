package org.flexnbd.management;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import javax.management.JMException;
import javax.management.MBeanServer;

import org.flexnbd.protocol.service.Downstream;
import org.flexnbd.protocol.service.Upstream;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * Registers the {@code flexnbd:type=Proxy} MBean in the platform MBean server for as long as it is active, looks at
 * the upstream once a second for notifications, and with a {@code jmxPort} and a {@code jmxPasswordFile} opens an
 * authenticated JMX RMI connector on 127.0.0.1.
 * Both references are optional, dynamic and greedy (so method-injected): the MBean stays registered through a hot
 * update of the upstream or downstream bundle, and reports what it can while one is missing. Nothing here throws
 * from activation: a connector that cannot be opened is logged, and the MBean is still there for local attach.
 */
@Component(configurationPid = "org.flexnbd.management", configurationPolicy = ConfigurationPolicy.REQUIRE,
        service = {}, immediate = true)
@Designate(ocd = ManagementConfig.class)
public final class ManagementComponent {
    private static final Logger LOG = Logger.getLogger(ManagementComponent.class.getName());
    static final long POLL_MILLIS = 1000;

    private volatile Upstream upstream;
    private volatile Downstream downstream;
    private final MBeanServer mbs = ManagementFactory.getPlatformMBeanServer();
    private final ProxyManagement mbean;
    private final boolean registered;
    private final ScheduledExecutorService poller;
    private final LoopbackJmxConnector connector;

    @Activate
    public ManagementComponent(ManagementConfig config) {
        this.mbean = new ProxyManagement(() -> upstream, () -> downstream);
        this.registered = register();
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "management-poll");
            t.setDaemon(true);
            return t;
        });
        poller.scheduleWithFixedDelay(this::poll, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
        this.connector = openConnector(config);
    }

    private boolean register() {
        try {
            mbs.registerMBean(mbean, ProxyManagement.NAME);
            return true;
        } catch (JMException | RuntimeException e) {
            LOG.severe("cannot register the MBean " + ProxyManagement.NAME + ": " + Reasons.of(e));
            return false;
        }
    }

    /**
     * Opens the connector the configuration asks for, only with a password file: whatever a configuration file says,
     * no connector is opened without authentication.
     */
    private LoopbackJmxConnector openConnector(ManagementConfig config) {
        int port = config.jmxPort();
        if (port == 0) {
            return null;
        }
        if (config.jmxPasswordFile().isBlank()) {
            LOG.severe("no JMX connector on 127.0.0.1:" + port + ": it needs a password file (jmxPasswordFile,"
                    + " --jmx-password-file)");
            return null;
        }
        try {
            String access = config.jmxAccessFile();
            LoopbackJmxConnector c = LoopbackJmxConnector.open(port, mbs,
                    new PasswordAuthenticator(Path.of(config.jmxPasswordFile())),
                    new AccessRoles(access.isBlank() ? null : Path.of(access)),
                    new ConnectionLimits(config.jmxMaxConnections(), config.jmxIdleSeconds() * 1000));
            LOG.info("JMX connector on " + c.url());
            return c;
        } catch (IOException | RuntimeException e) {
            LOG.severe("cannot open the JMX connector on 127.0.0.1:" + port + ": " + Reasons.of(e));
            return null;
        }
    }

    void poll() {
        try {
            mbean.poll();
        } catch (RuntimeException e) {
            // a scheduled task that throws is never run again
            LOG.log(Level.WARNING, "management poll failed: " + Reasons.of(e), e);
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    synchronized void bindUpstream(Upstream u) {
        upstream = u;
        pollSoon();
    }

    synchronized void unbindUpstream(Upstream u) {
        // A greedy reference binds the replacement before it unbinds the one replaced.
        if (upstream == u) {
            upstream = null;
            pollSoon();
        }
    }

    /**
     * A look at the new upstream now rather than within a second, on the poll thread (not on SCR's: the upstream's
     * status may wait for its first connection): it sets what later reconnects are counted from.
     */
    private void pollSoon() {
        try {
            poller.execute(this::poll);
        } catch (RejectedExecutionException e) {
            // deactivated: nothing more to look at
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    synchronized void bindDownstream(Downstream d) {
        downstream = d;
    }

    synchronized void unbindDownstream(Downstream d) {
        if (downstream == d) {
            downstream = null;
        }
    }

    @Deactivate
    void deactivate() {
        poller.shutdownNow();
        if (connector != null) {
            connector.close();
            LOG.info("JMX connector on " + connector.url() + " closed");
        }
        if (registered) {
            try {
                mbs.unregisterMBean(ProxyManagement.NAME);
            } catch (JMException e) {
                LOG.warning("cannot unregister the MBean " + ProxyManagement.NAME + ": " + Reasons.of(e));
            }
        }
    }
}
