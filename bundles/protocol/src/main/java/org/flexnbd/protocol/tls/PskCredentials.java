package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.util.Map;

/**
 * Pre-shared keys: every identity of the file for the listening side, one of them for the connecting side. The
 * Bouncy Castle bundles are needed only here, so a proxy without PSK runs without them.
 */
final class PskCredentials implements TlsCredentials {
    /**
     * Measured: 60 idle clients with pre-shared keys on both sides held 13.8 MiB more heap after a full collection
     * and 2.1 MiB more direct memory than in plain text, 118 and 18 KiB a side: Bouncy Castle's record layer, the
     * JDK's ciphers and {@link PskTlsChannel}'s three buffers of one record. With some margin.
     */
    private static final TlsMemory PER_CONNECTION = new TlsMemory(144 * 1024, 32 * 1024);

    private final Map<String, byte[]> keys;
    private final String identity;

    private PskCredentials(Map<String, byte[]> keys, String identity) {
        this.keys = keys;
        this.identity = identity;
    }

    static PskCredentials server(Path file) throws IOException {
        requireBouncyCastle();
        return new PskCredentials(PskFile.read(file), null);
    }

    static PskCredentials client(Path file, String identity) throws IOException {
        requireBouncyCastle();
        Map<String, byte[]> keys = PskFile.read(file);
        String chosen = identity.isEmpty() ? keys.keySet().iterator().next() : identity;
        byte[] key = keys.get(chosen);
        if (key == null) {
            throw new IOException(file + ": no key for the identity '" + chosen + "'");
        }
        return new PskCredentials(Map.of(chosen, key), chosen);
    }

    private static void requireBouncyCastle() throws IOException {
        try {
            Class.forName("org.bouncycastle.tls.TlsServerProtocol", false, PskCredentials.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IOException("TLS with pre-shared keys needs Bouncy Castle (bcprov, bcutil, bctls bundles),"
                    + " which is not installed");
        }
    }

    @Override
    public TlsMemory memoryPerConnection() {
        return PER_CONNECTION;
    }

    @Override
    public SecureChannel accept(ByteChannel raw) throws IOException {
        return PskTlsChannel.accept(raw, keys);
    }

    @Override
    public SecureChannel connect(ByteChannel raw, String host, int port) throws IOException {
        return PskTlsChannel.connect(raw, identity, keys.get(identity));
    }
}
