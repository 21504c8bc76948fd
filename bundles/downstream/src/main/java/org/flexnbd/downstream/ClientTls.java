package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

import org.flexnbd.protocol.tls.SecureChannel;
import org.flexnbd.protocol.tls.TlsCredentials;
import org.flexnbd.protocol.tls.TlsMemory;
import org.flexnbd.protocol.tls.TlsMode;

/**
 * TLS for clients: the mode, and the credentials (a server certificate and key, or pre-shared keys) read once, when
 * the listener is configured.
 */
record ClientTls(TlsMode mode, TlsCredentials credentials) {
    static final ClientTls OFF = new ClientTls(TlsMode.OFF, null);

    /** Throws, with the file and the reason but never a key's content, when the credentials cannot be read. */
    static ClientTls of(String mode, String certificates, boolean verifyPeer, String peerNames, String psk)
            throws IOException {
        TlsMode m = TlsMode.parse(mode);
        if (m == TlsMode.OFF) {
            if (verifyPeer) {
                throw new IOException("tlsVerifyPeer needs TLS on or required");
            }
            return OFF;
        }
        if (!psk.isEmpty()) {
            if (!certificates.isEmpty() || verifyPeer) {
                throw new IOException("X.509 certificates or a pre-shared key, not both (with a key, the key itself"
                        + " proves who the client is)");
            }
            return new ClientTls(m, TlsCredentials.serverPsk(Path.of(psk)));
        }
        if (certificates.isEmpty()) {
            throw new IOException("TLS " + mode + " needs tlsCertificates, a directory with server-cert.pem and"
                    + " server-key.pem, or tlsPsk");
        }
        return new ClientTls(m, TlsCredentials.server(Path.of(certificates), verifyPeer, names(peerNames)));
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

    /** What each client's TLS holds for its life; none when TLS is off. */
    TlsMemory memory() {
        return credentials == null ? TlsMemory.NONE : credentials.memoryPerConnection();
    }

    SecureChannel handshake(ByteChannel plain) throws IOException {
        return credentials.accept(plain);
    }
}
