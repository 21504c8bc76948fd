package org.flexnbd.cli;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches the config folder and names the PIDs whose {@code PID.cfg} changed, so that a running appliance picks up
 * an operator's edit. Changes that come together (an editor writing a file in several steps) are reported once.
 */
final class ConfigWatcher implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ConfigWatcher.class.getName());
    private static final long SETTLE_MILLIS = 300;

    private final Path directory;
    private final Set<String> pids;
    private final Consumer<String> changed;
    private final WatchService watcher;
    private final Thread thread;

    ConfigWatcher(Path directory, Set<String> pids, Consumer<String> changed) throws IOException {
        this.directory = directory;
        this.pids = pids;
        this.changed = changed;
        this.watcher = FileSystems.getDefault().newWatchService();
        directory.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
        this.thread = new Thread(this::run, "config-watch");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        try {
            while (true) {
                WatchKey key = watcher.take();
                Set<String> touched = new LinkedHashSet<>();
                collect(key, touched);
                // Let an editor finish writing, and gather what else changes meanwhile.
                for (WatchKey more = watcher.poll(SETTLE_MILLIS, TimeUnit.MILLISECONDS); more != null;
                        more = watcher.poll(SETTLE_MILLIS, TimeUnit.MILLISECONDS)) {
                    collect(more, touched);
                }
                for (String pid : touched) {
                    apply(pid);
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // stopping
        }
    }

    /**
     * The watcher's failure policy for a change: whatever applying it throws is logged (E) and the watching goes on,
     * so one bad reload does not end every later one (a bad value is already refused, with the running
     * configuration kept, by whoever applies it).
     */
    private void apply(String pid) {
        try {
            changed.accept(pid);
        } catch (Throwable e) {
            LOG.log(Level.SEVERE, "config/" + pid + ".cfg: cannot apply it; the running configuration stays,"
                    + " and the watching goes on", e);
        }
    }

    private void collect(WatchKey key, Set<String> touched) {
        for (WatchEvent<?> event : key.pollEvents()) {
            if (event.context() instanceof Path file) {
                String name = file.getFileName().toString();
                if (name.endsWith(".cfg") && pids.contains(name.substring(0, name.length() - 4))) {
                    touched.add(name.substring(0, name.length() - 4));
                }
            }
        }
        if (!key.reset()) {
            rewatch();
        }
    }

    /**
     * The folder went away (removed, or its file system unmounted): logged (E), and watched again once it is back,
     * looked for once a second, so that an operator who restores it has reloads again without a restart.
     */
    private void rewatch() {
        LOG.severe("no longer watching " + directory + " for configuration changes; waiting for it to come back");
        while (true) {
            try {
                Thread.sleep(1000);
                directory.register(watcher, StandardWatchEventKinds.ENTRY_CREATE,
                        StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
                LOG.info("watching " + directory + " for configuration changes again");
                return;
            } catch (IOException e) {
                // not back yet
            } catch (InterruptedException | ClosedWatchServiceException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        try {
            watcher.close();
        } catch (IOException ignored) {
            // nothing more to watch either way
        }
        thread.interrupt();
    }
}
