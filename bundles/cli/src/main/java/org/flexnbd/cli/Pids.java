package org.flexnbd.cli;

import java.util.List;
import java.util.Map;

/**
 * The configurations the cli owns, and the type of each key the components read. A .cfg file holds strings; these
 * types turn them into the values ConfigAdmin passes on. Keys not listed here stay strings.
 */
final class Pids {
    static final String UPSTREAM = "org.flexnbd.upstream";
    static final String DOWNSTREAM = "org.flexnbd.downstream";
    static final String MANAGEMENT = "org.flexnbd.management";
    static final String DEMO = "org.flexnbd.demo";

    /** The demo upstream's size when neither config/org.flexnbd.demo.cfg nor anything else says: 1 GiB. */
    static final long DEFAULT_DEMO_SIZE = 1L << 30;
    /** How long the start-up connect may take when the configuration does not say. */
    static final int DEFAULT_CONNECT_TIMEOUT_SECONDS = 15;
    /** The values of tls, on both ends, as nbdkit spells them. */
    static final List<String> TLS_MODES = List.of("off", "on", "require");

    private static final Map<String, Map<String, Class<?>>> TYPES = Map.of(
            UPSTREAM, Map.ofEntries(Map.entry("address", String.class), Map.entry("port", Integer.class),
                    Map.entry("bind", String.class), Map.entry("exportName", String.class),
                    Map.entry("timeoutSeconds", Integer.class), Map.entry("connectTimeoutSeconds", Integer.class),
                    Map.entry("reconnectMaxDelayMillis", Integer.class), Map.entry("maxClients", Integer.class),
                    Map.entry("journalBytes", Long.class), Map.entry("tls", String.class),
                    Map.entry("tlsCertificates", String.class), Map.entry("tlsPsk", String.class),
                    Map.entry("tlsUsername", String.class)),
            DOWNSTREAM, Map.ofEntries(Map.entry("address", String.class), Map.entry("port", Integer.class),
                    Map.entry("maxClients", Integer.class), Map.entry("handshake", String.class),
                    Map.entry("bufferBytes", Long.class), Map.entry("drainSeconds", Integer.class),
                    Map.entry("cacheBytes", Integer.class), Map.entry("clientTimeoutSeconds", Integer.class),
                    Map.entry("socketMode", String.class), Map.entry("socketGroup", String.class),
                    Map.entry("handshakeTimeoutSeconds", Integer.class),
                    Map.entry("payloadTimeoutSeconds", Integer.class), Map.entry("tls", String.class),
                    Map.entry("tlsCertificates", String.class), Map.entry("tlsPsk", String.class),
                    Map.entry("tlsVerifyPeer", Boolean.class),
                    Map.entry("tlsPeerNames", String.class),
                    Map.entry("allow", String.class)),
            MANAGEMENT, Map.of("jmxPort", Integer.class, "jmxPasswordFile", String.class, "jmxAccessFile",
                    String.class, "jmxMaxConnections", Integer.class, "jmxIdleSeconds", Integer.class),
            DEMO, Map.of("path", String.class, "size", Long.class));

    private Pids() {
    }

    /** The type of a key of a configuration, String when unknown. */
    static Class<?> type(String pid, String key) {
        return TYPES.getOrDefault(pid, Map.of()).getOrDefault(key, String.class);
    }
}
