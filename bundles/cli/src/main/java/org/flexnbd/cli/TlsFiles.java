package org.flexnbd.cli;

import java.io.IOException;
import java.util.Map;

import org.flexnbd.protocol.tls.TlsCredentials;
import org.flexnbd.protocol.tls.TlsMode;

/**
 * The TLS credentials a configuration names, chosen and read before it is applied by the same rules the listener and
 * the upstream connector will apply: a configuration whose key others may read, whose folder lacks a file, or whose
 * settings contradict each other is refused like a value out of range. Applied, it stopped the listener of a running
 * appliance (every client dropped, then the process exited for want of a listener), or left the upstream connector
 * retrying for ever while clients hung.
 */
final class TlsFiles {
    private TlsFiles() {
    }

    /** Throws, with the reason (never a key's content), when {@code config} of {@code pid} names unusable TLS. */
    static void check(String pid, Map<String, Object> config) throws ConfigDefaults.ConfigException {
        try {
            if (pid.equals(Pids.DOWNSTREAM)) {
                TlsCredentials.listening(mode(config), text(config, "tlsCertificates"),
                        Boolean.parseBoolean(text(config, "tlsVerifyPeer")), text(config, "tlsPeerNames"),
                        text(config, "tlsPsk"));
            } else if (pid.equals(Pids.UPSTREAM)) {
                TlsCredentials.connecting(mode(config), text(config, "tlsCertificates"), text(config, "tlsPsk"),
                        text(config, "tlsUsername"), text(config, "address").startsWith("/"));
            }
        } catch (IOException | RuntimeException e) {
            throw new ConfigDefaults.ConfigException(pid + ": TLS: " + e.getMessage());
        }
    }

    private static TlsMode mode(Map<String, Object> config) {
        String mode = text(config, "tls");
        return TlsMode.parse(mode.isEmpty() ? "off" : mode);
    }

    private static String text(Map<String, Object> config, String key) {
        Object v = config.get(key);
        return v == null ? "" : v.toString().strip();
    }
}
