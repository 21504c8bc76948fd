package org.flexnbd.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The defaults in the installation's config/PID.cfg files (java.util.Properties syntax), typed as {@link Pids} says.
 * The cli reads them itself, just before it pushes a configuration, so that each configuration has one owner and the
 * defaults are in place before the flags go over them.
 */
final class ConfigDefaults {
    /** The largest .cfg file read: 64 KiB, a hundred times what the shipped ones hold. */
    static final long MAX_BYTES = 64 * 1024;
    private final Path directory;

    /** @param directory the config folder, or null when there is none (every PID then has no defaults) */
    ConfigDefaults(Path directory) {
        this.directory = directory;
    }

    /**
     * A running appliance's PID.cfg changed: it must still be there and hold a setting. A file removed or emptied (a
     * slip, an editor that truncates before it writes) would put every setting back to its default, TLS and
     * {@code allow=} with them: the proxy would go on serving, in plain text, to anyone. Refused instead, as any bad
     * edit is.
     */
    void requireSettings(String pid) throws ConfigException {
        Path file = directory.resolve(pid + ".cfg");
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file + " is gone; put it back to change the configuration");
        }
        if (read(pid).isEmpty()) {
            throw new ConfigException(file + " holds no setting");
        }
    }

    /** The typed properties of PID.cfg; empty when there is no such file. */
    Map<String, Object> read(String pid) throws ConfigException {
        Map<String, Object> typed = new LinkedHashMap<>();
        if (directory == null) {
            return typed;
        }
        Path file = directory.resolve(pid + ".cfg");
        if (!Files.isRegularFile(file)) {
            return typed;
        }
        try {
            // Read whole into memory: a huge file (300 MB killed the watcher thread) is refused unread.
            long size = Files.size(file);
            if (size > MAX_BYTES) {
                throw new ConfigException(file + ": " + size + " bytes, more than a configuration file may hold ("
                        + MAX_BYTES + ")");
            }
        } catch (IOException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
        Properties raw = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            raw.load(in);
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
        for (String key : raw.stringPropertyNames()) {
            typed.put(key, convert(file, key, raw.getProperty(key).trim(), Pids.type(pid, key)));
        }
        return typed;
    }

    private static Object convert(Path file, String key, String value, Class<?> type) throws ConfigException {
        try {
            if (type == Integer.class) {
                return Integer.valueOf(value);
            }
            if (type == Long.class) {
                return Long.valueOf(value);
            }
            if (type == Boolean.class) {
                return bool(file, key, value);
            }
            return value;
        } catch (NumberFormatException e) {
            throw new ConfigException(file + ": " + key + " must be a number, not '" + value + "'");
        }
    }

    /** Only true or false: Boolean.valueOf would read a typo such as "ture" as false and switch a check off. */
    private static Boolean bool(Path file, String key, String value) throws ConfigException {
        if (value.equals("true") || value.equals("false")) {
            return Boolean.valueOf(value);
        }
        throw new ConfigException(file + ": " + key + " must be true or false, not '" + value + "'");
    }

    /** A .cfg file that cannot be read or holds a wrong value. */
    static final class ConfigException extends Exception {
        private static final long serialVersionUID = 1L;

        ConfigException(String message) {
            super(message, null, false, false);
        }
    }
}
