package org.flexnbd.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the flags put into each configuration. Only what the command line says is here: everything else keeps the
 * value of config/*.cfg (or the component's own default). Pure, so that tests can check every key.
 */
final class ConfigPlan {
    private final ProxySettings settings;

    ConfigPlan(ProxySettings settings) {
        this.settings = settings;
    }

    Map<String, Object> demo(Path socket) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("path", socket.toString());
        return p;
    }

    /** @param demoSocket where the demo upstream listens, with --demo; else null */
    Map<String, Object> upstream(Path demoSocket) {
        Map<String, Object> p = new LinkedHashMap<>();
        if (demoSocket != null) {
            p.put("address", demoSocket.toString());
            p.put("port", 0);
            p.put("bind", "");
            // The demo server speaks no TLS, whatever config/ says for a real upstream.
            p.put("tls", "off");
        } else {
            Address up = settings.upstream().orElseThrow();
            p.put("address", up.host());
            p.put("port", up.port());
            settings.bind().ifPresent(b -> p.put("bind", b));
            settings.upstreamTls().mode().ifPresent(m -> p.put("tls", m));
            settings.upstreamTls().certificates().ifPresent(d -> p.put("tlsCertificates", d));
        }
        settings.exportName().ifPresent(n -> p.put("exportName", n));
        settings.upstreamTimeoutSeconds().ifPresent(s -> p.put("timeoutSeconds", s));
        settings.maxClients().ifPresent(n -> p.put("maxClients", n));
        return p;
    }

    Map<String, Object> downstream() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("address", settings.listen().host());
        p.put("port", settings.listen().port());
        settings.maxClients().ifPresent(n -> p.put("maxClients", n));
        settings.handshake().ifPresent(h -> p.put("handshake", h));
        settings.cacheBytes().ifPresent(b -> p.put("cacheBytes", b));
        settings.socketMode().ifPresent(m -> p.put("socketMode", m));
        settings.socketGroup().ifPresent(g -> p.put("socketGroup", g));
        settings.clientTls().mode().ifPresent(m -> p.put("tls", m));
        settings.clientTls().certificates().ifPresent(d -> p.put("tlsCertificates", d));
        if (settings.tlsVerifyPeer()) {
            // A flag without a value can only switch it on; config/ may say true without it.
            p.put("tlsVerifyPeer", true);
        }
        settings.tlsPeerNames().ifPresent(n -> p.put("tlsPeerNames", n));
        settings.allow().ifPresent(a -> p.put("allow", a));
        return p;
    }

    Map<String, Object> management() {
        Map<String, Object> p = new LinkedHashMap<>();
        settings.jmxPort().ifPresent(port -> p.put("jmxPort", port));
        settings.jmxPasswordFile().ifPresent(f -> p.put("jmxPasswordFile", f));
        settings.jmxAccessFile().ifPresent(f -> p.put("jmxAccessFile", f));
        return p;
    }
}
