package org.flexnbd.protocol.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.EnumSet;
import java.util.Set;

/**
 * A private key in PEM: PKCS#8 ({@code PRIVATE KEY}, what openssl writes) or PKCS#1 ({@code RSA PRIVATE KEY}, what
 * older certtool writes). As ssh does, a key that anyone but its owner may read or write is refused.
 */
final class PrivateKeyFile {
    private static final Set<PosixFilePermission> OWNER_ONLY = EnumSet.of(PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE);
    /** DER of the PKCS#8 AlgorithmIdentifier for rsaEncryption with NULL parameters. */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
        (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

    private PrivateKeyFile() {
    }

    static PrivateKey read(Path file) throws IOException {
        checkOwnerOnly(file);
        for (PemFile.Block b : PemFile.read(file)) {
            switch (b.type()) {
                case "PRIVATE KEY":
                    return pkcs8(file, b.der());
                case "RSA PRIVATE KEY":
                    return pkcs8(file, rsaAsPkcs8(b.der()));
                case "ENCRYPTED PRIVATE KEY":
                    throw new IOException(file + ": an encrypted key; the proxy reads unencrypted keys only");
                default:
                    // a certificate or parameters before the key: look further
            }
        }
        throw new IOException(file + ": no PRIVATE KEY or RSA PRIVATE KEY block (an EC key in SEC1 form? convert"
                + " it with: openssl pkcs8 -topk8 -nocrypt)");
    }

    static void checkOwnerOnly(Path file) throws IOException {
        Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
        if (!OWNER_ONLY.containsAll(p)) {
            throw new IOException(file + ": readable or writable by others (" + PosixFilePermissions.toString(p)
                    + "); a private key must be the owner's alone: chmod 600 it");
        }
    }

    private static PrivateKey pkcs8(Path file, byte[] der) throws IOException {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException notThisOne) {
                // the key names its algorithm only inside the DER: try the ones TLS uses
            }
        }
        throw new IOException(file + ": a private key of an algorithm TLS here does not take");
    }

    /** PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier, OCTET STRING holding the PKCS#1 key }. */
    static byte[] rsaAsPkcs8(byte[] pkcs1) {
        byte[] version = {0x02, 0x01, 0x00};
        byte[] octets = der(0x04, pkcs1);
        byte[] body = new byte[version.length + RSA_ALGORITHM.length + octets.length];
        System.arraycopy(version, 0, body, 0, version.length);
        System.arraycopy(RSA_ALGORITHM, 0, body, version.length, RSA_ALGORITHM.length);
        System.arraycopy(octets, 0, body, version.length + RSA_ALGORITHM.length, octets.length);
        return der(0x30, body);
    }

    private static byte[] der(int tag, byte[] content) {
        int n = content.length;
        byte[] length;
        if (n < 0x80) {
            length = new byte[] {(byte) n};
        } else if (n < 0x100) {
            length = new byte[] {(byte) 0x81, (byte) n};
        } else if (n < 0x10000) {
            length = new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n};
        } else {
            length = new byte[] {(byte) 0x83, (byte) (n >> 16), (byte) (n >> 8), (byte) n};
        }
        byte[] out = new byte[1 + length.length + n];
        out[0] = (byte) tag;
        System.arraycopy(length, 0, out, 1, length.length);
        System.arraycopy(content, 0, out, 1 + length.length, n);
        return out;
    }
}
