package org.flexnbd.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The documented range of every configuration key, checked on the whole configuration (config/PID.cfg with the
 * flags over it) before it reaches a component: a value out of range is refused with the reason, and the running
 * configuration stays. The components then never see a value that breaks them later (a negative back-off killed the
 * upstream's reconnect thread; a zero timeout reconnected without end; a 10 GiB buffer ran out of memory).
 */
final class ConfigRanges {
    /** The largest request NBD allows the proxy to hold on top of the buffer bound: 32 MiB. */
    static final long MAX_REQUEST = 32L << 20;

    private interface Rule {
        /** Null when the value is fine; otherwise what it must be. */
        String refuse(Object value);
    }

    private record Range(long min, long max) implements Rule {
        @Override
        public String refuse(Object value) {
            long v = ((Number) value).longValue();
            return v >= min && v <= max ? null : "must be from " + min + " to " + max;
        }
    }

    /** One of a list of words; the list in its own order, so that the message reads as the documentation does. */
    private record OneOf(List<String> values) implements Rule {
        @Override
        public String refuse(Object value) {
            return values.contains(value.toString()) ? null : "must be one of " + String.join(", ", values);
        }
    }

    /** Free text, such as a name or an address, within reason: no control characters, at most 4096 characters. */
    private record Text(boolean absolutePathOrEmpty) implements Rule {
        @Override
        public String refuse(Object value) {
            String s = value.toString();
            if (s.length() > 4096 || s.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                return "must be at most 4096 characters, none of them control characters";
            }
            return absolutePathOrEmpty && !s.isEmpty() && !s.startsWith("/") ? "must be an absolute path" : null;
        }
    }

    private static final Rule PORT = new Range(0, 65535);
    private static final Rule TEXT = new Text(false);
    private static final Rule PATH = new Text(true);
    private static final Rule CLIENTS = new Range(1, 1024);
    private static final Rule MODE = value -> value.toString().matches("0?[0-7]{3}") ? null
            : "must be octal permissions such as 0660";
    private static final Rule TLS = new OneOf(Pids.TLS_MODES);
    private static final Rule BOOLEAN = value -> value instanceof Boolean ? null : "must be true or false";

    private static Map<String, Map<String, Rule>> rules(long maxBufferBytes) {
        return Map.of(
                Pids.UPSTREAM, Map.ofEntries(Map.entry("address", TEXT), Map.entry("port", PORT),
                        Map.entry("bind", TEXT), Map.entry("exportName", TEXT),
                        Map.entry("timeoutSeconds", new Range(1, 86_400)),
                        Map.entry("connectTimeoutSeconds", new Range(1, 3600)),
                        Map.entry("reconnectMaxDelayMillis", new Range(100, 600_000)), Map.entry("maxClients", CLIENTS),
                        Map.entry("journalBytes", new Range(0, maxBufferBytes)), Map.entry("tls", TLS),
                        Map.entry("tlsCertificates", PATH), Map.entry("tlsPsk", PATH),
                        Map.entry("tlsUsername", TEXT)),
                Pids.DOWNSTREAM, Map.ofEntries(Map.entry("address", TEXT), Map.entry("port", PORT),
                        Map.entry("maxClients", CLIENTS),
                        Map.entry("handshake", new OneOf(ArgumentParser.HANDSHAKES)),
                        Map.entry("bufferBytes", new Range(1L << 20, maxBufferBytes)),
                        Map.entry("drainSeconds", new Range(0, 300)), Map.entry("cacheBytes", new Range(0, 1 << 20)),
                        Map.entry("clientTimeoutSeconds", new Range(0, 86_400)), Map.entry("socketMode", MODE),
                        Map.entry("socketGroup", TEXT), Map.entry("handshakeTimeoutSeconds", new Range(1, 3600)),
                        Map.entry("payloadTimeoutSeconds", new Range(1, 3600)), Map.entry("tls", TLS),
                        Map.entry("tlsCertificates", PATH), Map.entry("tlsPsk", PATH),
                        Map.entry("tlsVerifyPeer", BOOLEAN),
                        Map.entry("tlsPeerNames", TEXT),
                        // The entries' syntax is the downstream's AllowList's to check; here only the size.
                        Map.entry("allow", TEXT)),
                Pids.MANAGEMENT, Map.of("jmxPort", PORT, "jmxPasswordFile", PATH, "jmxAccessFile", PATH,
                        "jmxMaxConnections", new Range(1, 1024), "jmxIdleSeconds", new Range(1, 3600)),
                Pids.DEMO, Map.of("path", TEXT, "size", new Range(512, 1L << 40)));
    }

    private final Map<String, Map<String, Rule>> rules;

    /**
     * @param payloadMemoryBytes the bound on payload memory (the JVM's direct memory bound), which must hold the
     *     buffer, one request besides, and the pool's caches
     */
    ConfigRanges(long payloadMemoryBytes) {
        this.rules = rules(Math.max(1L << 20, payloadMemoryBytes / 4 * 3 - MAX_REQUEST));
    }

    /** Throws with every key that is unknown or out of range. */
    void check(String pid, Map<String, Object> config) throws ConfigDefaults.ConfigException {
        Map<String, Rule> known = rules.getOrDefault(pid, Map.of());
        StringBuilder wrong = new StringBuilder();
        for (Map.Entry<String, Object> e : config.entrySet()) {
            Rule rule = known.get(e.getKey());
            String why = rule == null ? "is not a setting of " + pid : rule.refuse(e.getValue());
            if (why != null) {
                wrong.append(wrong.length() == 0 ? "" : "; ").append(e.getKey()).append('=')
                        .append(shown(e.getValue())).append(' ').append(why);
            }
        }
        for (String problem : mismatches(pid, config)) {
            wrong.append(wrong.length() == 0 ? "" : "; ").append(problem);
        }
        if (wrong.length() > 0) {
            throw new ConfigDefaults.ConfigException(pid + ": " + wrong);
        }
    }

    /** Keys that are each in range but do not go together. */
    private static List<String> mismatches(String pid, Map<String, Object> config) {
        List<String> problems = new ArrayList<>();
        if (pid.equals(Pids.MANAGEMENT) && config.get("jmxPort") instanceof Integer port && port != 0
                && config.getOrDefault("jmxPasswordFile", "").toString().isEmpty()) {
            problems.add("jmxPort=" + port
                    + " needs jmxPasswordFile (--jmx-password-file): no JMX connector without authentication");
        }
        // A key left out is the component's default: tls off, no certificates, no key, no peer verification.
        boolean certificates = !config.getOrDefault("tlsCertificates", "").toString().isEmpty();
        boolean psk = !config.getOrDefault("tlsPsk", "").toString().isEmpty();
        boolean upstream = pid.equals(Pids.UPSTREAM);
        if ((upstream || pid.equals(Pids.DOWNSTREAM)) && certificates && psk) {
            problems.add("tlsCertificates and tlsPsk (" + (upstream ? "--conn-tls-certificates, --conn-tls-psk"
                    : "--tls-certificates, --tls-psk") + ") are both set: X.509 certificates or a pre-shared key, not"
                    + " both");
        }
        if (upstream && !psk && !config.getOrDefault("tlsUsername", "").toString().isEmpty()) {
            problems.add("tlsUsername needs tlsPsk (--conn-tls-psk): it is the identity to take from the file of"
                    + " pre-shared keys");
        }
        if (pid.equals(Pids.DOWNSTREAM)) {
            String tls = config.getOrDefault("tls", "off").toString();
            boolean tlsOn = tls.equals("on") || tls.equals("require");
            if (tlsOn && !certificates && !psk) {
                problems.add("tls=" + tls + " needs tlsCertificates (--tls-certificates): the folder with the"
                        + " server's certificate and key, or tlsPsk (--tls-psk): a file of pre-shared keys");
            }
            if (psk && Boolean.TRUE.equals(config.get("tlsVerifyPeer"))) {
                problems.add("tlsVerifyPeer=true cannot go with tlsPsk (--tls-psk): with a pre-shared key the key"
                        + " itself authenticates the client");
            }
            if (!config.getOrDefault("tlsPeerNames", "").toString().isBlank()
                    && !Boolean.TRUE.equals(config.get("tlsVerifyPeer"))) {
                problems.add("tlsPeerNames needs tlsVerifyPeer=true (--tls-verify-peer): names are checked in the"
                        + " certificates clients are asked for");
            }
            if (!tlsOn && Boolean.TRUE.equals(config.get("tlsVerifyPeer"))) {
                problems.add("tlsVerifyPeer=true needs tls=on or tls=require (--tls): there is no peer to verify"
                        + " without TLS");
            }
        }
        return problems;
    }

    /** A value as the log shows it: at most 40 characters of it. */
    private static String shown(Object value) {
        String s = String.valueOf(value);
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    /** The keys of a configuration, for the documentation test. */
    List<String> keys(String pid) {
        return List.copyOf(rules.getOrDefault(pid, Map.of()).keySet());
    }
}
