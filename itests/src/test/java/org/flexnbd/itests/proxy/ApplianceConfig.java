package org.flexnbd.itests.proxy;

import java.io.IOException;
import java.util.Dictionary;
import java.util.Hashtable;

import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

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

    private static void update(ConfigurationAdmin cm, String pid, Dictionary<String, Object> p) throws IOException {
        Configuration c = cm.getConfiguration(pid, "?");
        c.update(p);
    }
}
