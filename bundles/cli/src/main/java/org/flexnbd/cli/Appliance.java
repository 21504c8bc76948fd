package org.flexnbd.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/** What start-up needs from the running appliance: configurations to push, services to wait for. */
interface Appliance {

    /**
     * Configures PID: its defaults from config/PID.cfg, and {@code flags} over them. Returns the properties pushed.
     */
    Map<String, Object> configure(String pid, Map<String, Object> flags) throws ConfigDefaults.ConfigException;

    /** The service, once there is one; null when none came within the timeout. */
    <T> T awaitService(Class<T> type, Duration timeout) throws InterruptedException;

    /** Whether the file exists, waiting up to the timeout for it to appear. */
    boolean awaitFile(Path file, Duration timeout) throws InterruptedException;

    /**
     * Checks what {@link #configure} would push (PID.cfg with the flags over it) without pushing it, so that start-up
     * refuses a bad configuration before it starts anything.
     */
    default void validate(String pid, Map<String, Object> flags) throws ConfigDefaults.ConfigException {
    }

    /**
     * Whether PID has a configuration already: the framework's storage is the process's own, so one there means the
     * cli started again in a running appliance (a hot update of its bundle), not the process.
     */
    default boolean configured(String pid) {
        return false;
    }
}
