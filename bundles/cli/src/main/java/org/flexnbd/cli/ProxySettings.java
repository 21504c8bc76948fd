package org.flexnbd.cli;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * What the command line asks for, validated. Settings that are optional are empty when neither a flag nor the
 * environment gave them, so that the defaults in config/*.cfg apply.
 *
 * @param listen where clients connect (always known: --demo has a default)
 * @param upstream the NBD server to relay to (-C and -P, or an NBD URI in -C); empty with --demo, which brings
 *     its own
 * @param bind -b: the local address to connect upstream from
 * @param exportName --conn-export, or the path of an NBD URI in -C
 * @param upstreamTimeoutSeconds --upstream-timeout, or else FLEXNBD_UPSTREAM_TIMEOUT
 * @param maxClients --max-clients
 * @param jmxPort --jmx-port
 * @param handshake --handshake: same, newstyle or oldstyle
 * @param cacheBytes --cache: the read-ahead cache size, when the cache is on
 * @param demo --demo
 * @param verbosity -q, -v, --debug
 * @param jmxPasswordFile --jmx-password-file, as an absolute path
 * @param jmxAccessFile --jmx-access-file, as an absolute path
 * @param socketMode --socket-mode: the UNIX socket's permissions, octal
 * @param socketGroup --socket-group: the UNIX socket's group
 * @param clientTls --tls and --tls-certificates: TLS for clients
 * @param tlsVerifyPeer --tls-verify-peer: clients must present a certificate
 * @param tlsPeerNames --tls-peer-names: the common names a client certificate may have
 * @param allow --allow: who may connect
 * @param upstreamTls --conn-tls and --conn-tls-certificates, or what an NBD URI in -C says
 */
record ProxySettings(Address listen, Optional<Address> upstream, Optional<String> bind, Optional<String> exportName,
        OptionalInt upstreamTimeoutSeconds, OptionalInt maxClients, OptionalInt jmxPort, Optional<String> handshake,
        OptionalInt cacheBytes, boolean demo, Verbosity verbosity, Optional<String> jmxPasswordFile,
        Optional<String> jmxAccessFile, Optional<String> socketMode, Optional<String> socketGroup, Tls clientTls,
        boolean tlsVerifyPeer, Optional<String> tlsPeerNames, Optional<String> allow, Tls upstreamTls) {
}
