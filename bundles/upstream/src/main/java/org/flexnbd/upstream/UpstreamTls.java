package org.flexnbd.upstream;

import java.io.IOException;
import java.nio.channels.ByteChannel;

import org.flexnbd.protocol.tls.SecureChannel;
import org.flexnbd.protocol.tls.TlsCredentials;
import org.flexnbd.protocol.tls.TlsMemory;
import org.flexnbd.protocol.tls.TlsMode;

/**
 * TLS towards the upstream: the mode, and the credentials read once from the configured directory (or the system's
 * trust store when there is none). The server's certificate must name the host connected to; on a UNIX socket there
 * is no host name, and the chain alone is checked. Credentials that cannot be read make every connection attempt
 * fail before a socket is opened: never a fall-back to plain text.
 */
record UpstreamTls(TlsMode mode, TlsCredentials credentials, IOException unreadable) {
    static final UpstreamTls OFF = new UpstreamTls(TlsMode.OFF, null, null);

    /**
     * {@code psk}, when not empty, is a pre-shared key file (with {@code username}, the identity to use; empty for
     * its first); otherwise X.509 from {@code certificates}.
     */
    static UpstreamTls of(String mode, String certificates, String psk, String username, boolean unixSocket) {
        try {
            TlsMode m = TlsMode.parse(mode);
            TlsCredentials credentials = TlsCredentials.connecting(m, certificates, psk, username, unixSocket);
            return credentials == null ? OFF : new UpstreamTls(m, credentials, null);
        } catch (IOException | IllegalArgumentException e) {
            return new UpstreamTls(TlsMode.REQUIRE, null, new IOException("upstream TLS: " + e.getMessage(), e));
        }
    }

    /** What each connection's TLS holds: counted when TLS may be used ({@code on} too), none in plain text. */
    TlsMemory memory() {
        return credentials == null ? TlsMemory.NONE : credentials.memoryPerConnection();
    }

    /** Throws the reason the credentials could not be read, if they could not. */
    void check() throws IOException {
        if (unreadable != null) {
            throw new IOException(unreadable.getMessage(), unreadable);
        }
    }

    SecureChannel handshake(ByteChannel plain, Endpoint endpoint) throws IOException {
        return endpoint.isUnix() ? credentials.connect(plain, null, 0)
                : credentials.connect(plain, endpoint.address(), endpoint.port());
    }
}
