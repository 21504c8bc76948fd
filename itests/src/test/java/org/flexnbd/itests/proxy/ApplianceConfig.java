package org.flexnbd.itests.proxy;

import java.io.IOException;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;

import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.protocol.service.Upstream;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

/** Configures the proxy's components through ConfigAdmin, as the cli bundle does. */
final class ApplianceConfig {
    private ApplianceConfig() {
    }

    static void upstream(ConfigurationAdmin cm, int port, int timeoutSeconds) throws IOException {
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("address", "127.0.0.1");
        p.put("port", port);
        p.put("timeoutSeconds", timeoutSeconds);
        p.put("reconnectMaxDelayMillis", 500);
        update(cm, "org.flexnbd.upstream", p);
    }

    static void downstream(ConfigurationAdmin cm, int port) throws IOException {
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("address", "127.0.0.1");
        p.put("port", port);
        update(cm, "org.flexnbd.downstream", p);
    }

    /**
     * Configures both ends (upstream 127.0.0.1:upstreamPort, listener 127.0.0.1:proxyPort), waits for the first
     * upstream connection and for the listener; returns the Upstream service.
     */
    static Upstream start(BundleContext context, ConfigurationAdmin cm, int upstreamPort, int proxyPort)
            throws IOException, InterruptedException {
        upstream(cm, upstreamPort, 5);
        downstream(cm, proxyPort);
        Upstream upstream = service(context, Upstream.class);
        upstream.awaitReady(Duration.ofSeconds(10));
        Peer.awaitPort(proxyPort, 10);
        return upstream;
    }

    /** The service, waiting up to 10 s for it; the tracker stays open for the test's framework's life. */
    static <T> T service(BundleContext context, Class<T> type) throws InterruptedException {
        ServiceTracker<T, T> tracker = new ServiceTracker<>(context, type, null);
        tracker.open();
        T s = tracker.waitForService(10_000);
        if (s == null) {
            throw new AssertionError("no " + type.getSimpleName() + " service within 10 s");
        }
        return s;
    }

    private static void update(ConfigurationAdmin cm, String pid, Dictionary<String, Object> p) throws IOException {
        Configuration c = cm.getConfiguration(pid, "?");
        c.update(p);
    }
}
