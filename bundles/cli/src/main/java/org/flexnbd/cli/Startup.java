package org.flexnbd.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.logging.Logger;

import org.flexnbd.protocol.service.Downstream;
import org.flexnbd.protocol.service.Upstream;

/**
 * Brings the proxy up in the manual's order: the demo upstream (with --demo), then the upstream, whose first
 * connection must succeed, then the listener, then management.
 */
final class Startup {
    static final int EXIT_UNREACHABLE = 1;
    static final int EXIT_CONFIGURATION = 2;

    private static final Logger LOG = Logger.getLogger(Startup.class.getName());
    /** How long a component may take to appear once configured (it does in milliseconds unless it is broken). */
    private static final Duration COMPONENT_WAIT = Duration.ofSeconds(10);

    private final ProxySettings settings;
    private final ConfigPlan plan;
    private final Appliance appliance;
    private final Path demoSocket;

    /** @param demoSocket where the demo upstream is to listen, with --demo; null otherwise */
    Startup(ProxySettings settings, Appliance appliance, Path demoSocket) {
        this.settings = settings;
        this.plan = new ConfigPlan(settings);
        this.appliance = appliance;
        this.demoSocket = demoSocket;
    }

    /** Returns once the proxy listens; throws when it cannot. */
    void run() throws StartupFailure, InterruptedException {
        try {
            if (settings.demo()) {
                appliance.validate(Pids.DEMO, plan.demo(demoSocket));
            }
            appliance.validate(Pids.UPSTREAM, plan.upstream(demoSocket));
            appliance.validate(Pids.DOWNSTREAM, plan.downstream());
            appliance.validate(Pids.MANAGEMENT, plan.management());
            // Again in a running appliance: its clients are served through whatever the upstream is doing, an outage
            // included, and a failed first connection is no reason to stop them.
            boolean again = appliance.configured(Pids.DOWNSTREAM);
            if (settings.demo()) {
                startDemo();
            }
            String upstream = startUpstream(again);
            String listening = startDownstream();
            appliance.configure(Pids.MANAGEMENT, plan.management());
            LOG.info("listening on " + listening + ", proxying to " + upstream);
        } catch (ConfigDefaults.ConfigException e) {
            throw new StartupFailure(EXIT_CONFIGURATION, "bad configuration: " + e.getMessage());
        }
    }

    private void startDemo() throws ConfigDefaults.ConfigException, InterruptedException {
        Map<String, Object> demo = appliance.configure(Pids.DEMO, plan.demo(demoSocket));
        Object size = demo.getOrDefault("size", Pids.DEFAULT_DEMO_SIZE);
        LOG.info("demo: in-memory upstream of " + size + " bytes on " + demoSocket
                + " (embedded demo server, not a real NBD server)");
        // The upstream's first connection is a single attempt: let the demo server bind first.
        appliance.awaitFile(demoSocket, COMPONENT_WAIT);
    }

    /**
     * Configures the upstream and waits for its first connection, unless the appliance runs {@code already}; returns
     * its address.
     */
    private String startUpstream(boolean already)
            throws ConfigDefaults.ConfigException, InterruptedException, StartupFailure {
        Map<String, Object> config = appliance.configure(Pids.UPSTREAM, plan.upstream(demoSocket));
        String address = address(config);
        Duration connect = Duration.ofSeconds(intValue(config.get("connectTimeoutSeconds"),
                Pids.DEFAULT_CONNECT_TIMEOUT_SECONDS));
        Upstream upstream = appliance.awaitService(Upstream.class, COMPONENT_WAIT);
        if (upstream == null) {
            throw new StartupFailure(EXIT_UNREACHABLE, "cannot connect to upstream " + address
                    + ": the upstream component did not start");
        }
        if (already) {
            LOG.info("started again in a running appliance: the upstream's connection is not awaited");
            return address;
        }
        try {
            upstream.awaitReady(connect);
        } catch (IOException | RuntimeException e) {
            throw new StartupFailure(EXIT_UNREACHABLE, "cannot connect to upstream " + address + ": " + reason(e));
        }
        return address;
    }

    /** Configures the listener; returns where it listens. */
    private String startDownstream() throws ConfigDefaults.ConfigException, InterruptedException, StartupFailure {
        Map<String, Object> config = appliance.configure(Pids.DOWNSTREAM, plan.downstream());
        String address = address(config);
        Downstream downstream = appliance.awaitService(Downstream.class, COMPONENT_WAIT);
        if (downstream == null) {
            throw new StartupFailure(EXIT_UNREACHABLE, "cannot listen on " + address
                    + ": the downstream component did not start");
        }
        try {
            return downstream.listenAddress();
        } catch (IOException | RuntimeException e) {
            throw new StartupFailure(EXIT_UNREACHABLE, "cannot listen on " + address + ": " + reason(e));
        }
    }

    /**
     * Applies config/PID.cfg again, after an operator edited it: its values, and the command line's flags over them.
     * A changed upstream configuration restarts the upstream connector (clients keep their requests, as in a hot
     * update); a changed downstream one restarts the listener, which disconnects its clients.
     */
    void reapply(String pid) throws ConfigDefaults.ConfigException {
        Map<String, Object> flags = switch (pid) {
            case Pids.DEMO -> plan.demo(demoSocket);
            case Pids.UPSTREAM -> plan.upstream(demoSocket);
            case Pids.DOWNSTREAM -> plan.downstream();
            case Pids.MANAGEMENT -> plan.management();
            default -> throw new IllegalArgumentException("not a configuration of the proxy: " + pid);
        };
        if (pid.equals(Pids.DEMO) && demoSocket == null) {
            return; // no demo upstream in this run
        }
        appliance.configure(pid, flags);
        LOG.info("config/" + pid + ".cfg changed: configuration applied");
    }

    private static String address(Map<String, Object> config) {
        return new Address(String.valueOf(config.get("address")), intValue(config.get("port"), 0)).toString();
    }

    private static int intValue(Object value, int otherwise) {
        if (value instanceof Number n) {
            return n.intValue();
        }
        if (value != null) {
            try {
                return Integer.parseInt(value.toString().trim());
            } catch (NumberFormatException e) {
                return otherwise;
            }
        }
        return otherwise;
    }

    /** The exception's message, or its class when it has none. */
    static String reason(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }
}
