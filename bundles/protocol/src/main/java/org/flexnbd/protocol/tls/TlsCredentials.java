package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
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
