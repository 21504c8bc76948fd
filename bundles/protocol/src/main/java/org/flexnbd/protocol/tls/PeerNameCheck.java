package org.flexnbd.protocol.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Set;

import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Client certificates that the authority signed, and whose subject's common name (CN) is one of the names allowed:
 * the check runs inside the TLS handshake, so a refused client gets a TLS alert, not an NBD connection.
 */
final class PeerNameCheck extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager chain;
    private final Set<String> names;

    PeerNameCheck(X509ExtendedTrustManager chain, Set<String> names) {
        this.chain = chain;
        this.names = Set.copyOf(names);
    }

    /** The common names in {@code certificate}'s subject; empty when it has none. */
    static Set<String> commonNames(X509Certificate certificate) {
        try {
            java.util.Set<String> found = new java.util.HashSet<>();
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                // Every value of every attribute: a multi-valued RDN (CN=mallory+CN=alice) shows only its first
                // through getType() and getValue().
                NamingEnumeration<? extends Attribute> attributes = rdn.toAttributes().getAll();
                while (attributes.hasMore()) {
                    Attribute a = attributes.next();
                    if (a.getID().equalsIgnoreCase("CN")) {
                        for (int i = 0; i < a.size(); i++) {
                            found.add(String.valueOf(a.get(i)));
                        }
                    }
                }
            }
            return found;
        } catch (NamingException e) {
            return Set.of();
        }
    }

    /**
     * One common name, and an allowed one. A subject with several names says nothing certain about who the client is
     * (CN=mallory,CN=alice is not alice), so it is refused however many of them are allowed.
     */
    private void checkName(X509Certificate[] chain) throws CertificateException {
        Set<String> cns = commonNames(chain[0]);
        String subject = chain[0].getSubjectX500Principal().getName();
        if (cns.size() > 1) {
            throw new CertificateException("client certificate " + subject + " has " + cns.size()
                    + " common names; one is needed to tell who the client is");
        }
        if (cns.isEmpty() || !names.contains(cns.iterator().next())) {
            throw new CertificateException("client certificate " + subject + " is not among the names allowed");
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String authType, Socket s) throws CertificateException {
        chain.checkClientTrusted(c, authType, s);
        checkName(c);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String authType, SSLEngine e) throws CertificateException {
        chain.checkClientTrusted(c, authType, e);
        checkName(c);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String authType) throws CertificateException {
        chain.checkClientTrusted(c, authType);
        checkName(c);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String authType, Socket s) throws CertificateException {
        throw new CertificateException("the listening side checks clients only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String authType, SSLEngine e) throws CertificateException {
        throw new CertificateException("the listening side checks clients only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String authType) throws CertificateException {
        throw new CertificateException("the listening side checks clients only");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return chain.getAcceptedIssuers();
    }
}
