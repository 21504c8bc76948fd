package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

import org.osgi.annotation.versioning.ProviderType;

/**
 * What one side of the proxy proves itself with and checks the other with, read once from the files the operator
 * named: X.509 certificates (the JDK's TLS) or pre-shared keys (Bouncy Castle's TLS, since the JDK has no PSK).
 */
@ProviderType
public interface TlsCredentials {

    /** The TLS handshake as the listening side, over a connection that has just agreed to STARTTLS. */
    SecureChannel accept(ByteChannel raw) throws IOException;

    /**
     * The TLS handshake as the connecting side. With X.509, the server's certificate must name {@code host} (a
     * DNS name, or an IP address in its subject alternative names); a null host (a UNIX socket) checks the chain
     * only.
     */
    SecureChannel connect(ByteChannel raw, String host, int port) throws IOException;

    /** What each connection made with these credentials holds for its life. */
    TlsMemory memoryPerConnection();

    /**
     * The listening side's credentials as its settings name them, or null in {@code OFF} mode: pre-shared keys from
     * {@code psk} when it is not empty, otherwise X.509 from {@code certificates} (see {@link #server}), with
     * {@code peerNames} a comma-separated list. The listener and the check of a configuration before it is applied
     * both choose here, so that one refuses what the other would. Throws, with the reason but never a key's
     * content, for settings that contradict each other or files that cannot be used.
     */
    static TlsCredentials listening(TlsMode mode, String certificates, boolean verifyPeer, String peerNames,
            String psk) throws IOException {
        if (mode == TlsMode.OFF) {
            if (verifyPeer) {
                throw new IOException("tlsVerifyPeer needs TLS on or required");
            }
            return null;
        }
        if (!psk.isEmpty()) {
            if (!certificates.isEmpty() || verifyPeer) {
                throw new IOException("X.509 certificates or a pre-shared key, not both (with a key, the key itself"
                        + " proves who the client is)");
            }
            return serverPsk(Path.of(psk));
        }
        if (certificates.isEmpty()) {
            throw new IOException("TLS " + mode.name().toLowerCase(Locale.ROOT) + " needs tlsCertificates,"
                    + " a directory with server-cert.pem and server-key.pem, or tlsPsk");
        }
        return server(Path.of(certificates), verifyPeer, names(peerNames));
    }

    /**
     * The connecting side's credentials as its settings name them, or null in {@code OFF} mode: a pre-shared key
     * from {@code psk} (the one of {@code username}, or the first) when it is not empty, otherwise X.509 checked
     * against {@code certificates} (see {@link #client}; the system's trust store when empty, except on a UNIX
     * socket, where there is no host name to check and any certificate a public authority signed would pass).
     */
    static TlsCredentials connecting(TlsMode mode, String certificates, String psk, String username,
            boolean unixSocket) throws IOException {
        if (mode == TlsMode.OFF) {
            return null;
        }
        if (!psk.isEmpty()) {
            if (!certificates.isEmpty()) {
                throw new IOException("X.509 certificates or a pre-shared key, not both");
            }
            return clientPsk(Path.of(psk), username);
        }
        if (certificates.isEmpty() && unixSocket) {
            throw new IOException("on a UNIX socket, name the authority that signs the server's certificate"
                    + " (tlsCertificates, a folder with ca-cert.pem)");
        }
        return client(certificates.isEmpty() ? null : Path.of(certificates));
    }

    /** A comma-separated list of names; spaces around them do not count. */
    static Set<String> names(String list) {
        Set<String> names = new LinkedHashSet<>();
        for (String n : list.split(",")) {
            if (!n.isBlank()) {
                names.add(n.strip());
            }
        }
        return names;
    }

    /**
     * The listening side with X.509: {@code server-cert.pem} (the certificate, then any intermediates) and
     * {@code server-key.pem} from {@code dir}; with {@code verifyPeer}, clients must show a certificate signed by
     * {@code ca-cert.pem}, and when {@code peerNames} is not empty, one whose subject's common name is among them.
     */
    static TlsCredentials server(Path dir, boolean verifyPeer, Set<String> peerNames) throws IOException {
        return X509Credentials.server(dir, verifyPeer, peerNames);
    }

    /** The same without names to check. */
    static TlsCredentials server(Path dir, boolean verifyPeer) throws IOException {
        return X509Credentials.server(dir, verifyPeer, Set.of());
    }

    /**
     * The connecting side with X.509: the server is checked against {@code dir/ca-cert.pem} (which must be there),
     * or the system's trust store when {@code dir} is null; {@code client-cert.pem} and {@code client-key.pem}, when
     * both are there, are shown to it.
     */
    static TlsCredentials client(Path dir) throws IOException {
        return X509Credentials.client(dir);
    }

    /** The listening side with pre-shared keys: a client must prove one of the identities in {@code file}. */
    static TlsCredentials serverPsk(Path file) throws IOException {
        return PskCredentials.server(file);
    }

    /**
     * The connecting side with a pre-shared key from {@code file}: the one of {@code identity}, or the first one
     * when {@code identity} is empty.
     */
    static TlsCredentials clientPsk(Path file, String identity) throws IOException {
        return PskCredentials.client(file, identity);
    }
}
