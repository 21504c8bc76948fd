package org.flexnbd.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.flexnbd.protocol.tls.TlsCredentials;

/**
 * The TLS credentials a configuration names, read before it is applied, as the listener and the upstream connector
 * will read them: a configuration whose key others may read, or whose folder lacks a file, is refused like a value
 * out of range. Applied, it stopped the listener of a running appliance (every client dropped, then the process
 * exited for want of a listener), or left the upstream connector retrying for ever while clients hung.
 */
final class TlsFiles {
    private TlsFiles() {
    }

    /** Throws, with the reason (never a key's content), when {@code config} of {@code pid} names unusable TLS files. */
    static void check(String pid, Map<String, Object> config) throws ConfigDefaults.ConfigException {
        if (!pid.equals(Pids.DOWNSTREAM) && !pid.equals(Pids.UPSTREAM)) {
            return;
        }
        if ("off".equals(text(config, "tls"))) {
            return;
        }
        String certificates = text(config, "tlsCertificates");
        String psk = text(config, "tlsPsk");
        try {
            if (pid.equals(Pids.DOWNSTREAM)) {
                if (!psk.isEmpty()) {
                    TlsCredentials.serverPsk(Path.of(psk));
                } else if (!certificates.isEmpty()) {
                    TlsCredentials.server(Path.of(certificates), Boolean.parseBoolean(text(config, "tlsVerifyPeer")),
                            names(text(config, "tlsPeerNames")));
                }
            } else if (!psk.isEmpty()) {
                TlsCredentials.clientPsk(Path.of(psk), text(config, "tlsUsername"));
            } else if (!certificates.isEmpty()) {
                TlsCredentials.client(Path.of(certificates));
            }
        } catch (IOException | RuntimeException e) {
            throw new ConfigDefaults.ConfigException(pid + ": TLS: " + e.getMessage());
        }
    }

    private static String text(Map<String, Object> config, String key) {
        Object v = config.get(key);
        return v == null ? (key.equals("tls") ? "off" : "") : v.toString().strip();
    }

    private static Set<String> names(String list) {
        return Arrays.stream(list.split(",")).map(String::strip).filter(n -> !n.isEmpty()).collect(Collectors.toSet());
    }
}
