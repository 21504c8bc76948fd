package org.flexnbd.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the flags put into each configuration. Only what the command line says is here: everything else keeps the
 * value of config/*.cfg (or the component's own default). Pure, so that tests can check every key.
 * <p>
 * One exception, so that a flag still wins: an end uses X.509 certificates or a pre-shared key, never both, so
 * credentials of one kind on the command line empty config/'s of the other kind (which no flag could otherwise do).
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
            Tls tls = settings.upstreamTls();
            tls.mode().ifPresent(m -> p.put("tls", m));
            tls.certificates().ifPresent(d -> {
                p.put("tlsCertificates", d);
                p.put("tlsPsk", "");
                p.put("tlsUsername", "");
            });
            tls.psk().ifPresent(f -> {
                p.put("tlsPsk", f);
                p.put("tlsCertificates", "");
            });
            tls.username().ifPresent(n -> p.put("tlsUsername", n));
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
        Tls tls = settings.clientTls();
        tls.mode().ifPresent(m -> p.put("tls", m));
        tls.certificates().ifPresent(d -> {
            p.put("tlsCertificates", d);
            p.put("tlsPsk", "");
        });
        tls.psk().ifPresent(f -> {
            // The client certificate checks go with the server's certificate (the flags refuse them with a PSK).
            p.put("tlsPsk", f);
            p.put("tlsCertificates", "");
            p.put("tlsVerifyPeer", false);
            p.put("tlsPeerNames", "");
        });
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
