package org.flexnbd.downstream;

import java.io.IOException;
import java.nio.channels.ByteChannel;

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
        TlsCredentials credentials = TlsCredentials.listening(m, certificates, verifyPeer, peerNames, psk);
        return credentials == null ? OFF : new ClientTls(m, credentials);
    }

    /** What each client's TLS holds for its life; none when TLS is off. */
    TlsMemory memory() {
        return credentials == null ? TlsMemory.NONE : credentials.memoryPerConnection();
    }

    SecureChannel handshake(ByteChannel plain) throws IOException {
        return credentials.accept(plain);
    }
}
