package org.flexnbd.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.PayloadPool;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

/** The {@link Appliance} in the framework: ConfigurationAdmin for configurations, service trackers to wait. */
final class OsgiAppliance implements Appliance, AutoCloseable {
    private final BundleContext context;
    private final ConfigurationAdmin configAdmin;
    private final ConfigDefaults defaults;
    private final ConfigRanges ranges = new ConfigRanges(PayloadPool.memoryLimit());
    private final List<ServiceTracker<?, ?>> trackers = new CopyOnWriteArrayList<>();

    OsgiAppliance(BundleContext context, ConfigurationAdmin configAdmin, ConfigDefaults defaults) {
        this.context = context;
        this.configAdmin = configAdmin;
        this.defaults = defaults;
    }

    @Override
    public Map<String, Object> configure(String pid, Map<String, Object> flags) throws ConfigDefaults.ConfigException {
        Map<String, Object> merged = defaults.read(pid);
        merged.putAll(flags);
        ranges.check(pid, merged);
        TlsFiles.check(pid, merged);
        try {
            Configuration configuration = configAdmin.getConfiguration(pid, "?");
            // Unchanged properties (the cli running again after an update of its bundle, a .cfg file saved without
            // a change) disturb no component.
            configuration.updateIfDifferent(new Hashtable<>(merged));
        } catch (IOException e) {
            throw new ConfigDefaults.ConfigException("cannot store the configuration " + pid + ": "
                    + Startup.reason(e));
        }
        return Collections.unmodifiableMap(new LinkedHashMap<>(merged));
    }

    @Override
    public boolean configured(String pid) {
        try {
            return configAdmin.listConfigurations("(" + org.osgi.framework.Constants.SERVICE_PID + "=" + pid + ")")
                    != null;
        } catch (IOException | org.osgi.framework.InvalidSyntaxException e) {
            return false;
        }
    }

    @Override
    public void validate(String pid, Map<String, Object> flags) throws ConfigDefaults.ConfigException {
        Map<String, Object> merged = defaults.read(pid);
        merged.putAll(flags);
        ranges.check(pid, merged);
        TlsFiles.check(pid, merged);
    }

    @Override
    public <T> T awaitService(Class<T> type, Duration timeout) throws InterruptedException {
        // The tracker stays open until the cli stops: the service is in use as long as the proxy runs.
        ServiceTracker<T, T> tracker = new ServiceTracker<>(context, type, null);
        trackers.add(tracker);
        tracker.open();
        return tracker.waitForService(Math.max(1, timeout.toMillis()));
    }

    @Override
    public boolean awaitFile(Path file, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.exists(file)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return true;
    }

    @Override
    public void close() {
        for (ServiceTracker<?, ?> t : trackers) {
            t.close();
        }
        trackers.clear();
    }
}
