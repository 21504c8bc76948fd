package org.flexnbd.downstream;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "flexnbd downstream", description = "Where NBD clients connect to the proxy")
@interface DownstreamConfig {
    @AttributeDefinition(description = "Address to listen on; a path starting with / is a UNIX socket")
    String address() default "127.0.0.1";

    @AttributeDefinition(description = "TCP port; 0 for a UNIX socket")
    int port() default 10809;

    @AttributeDefinition(description = "Clients served at once; others wait, without a hello, for a free place")
    int maxClients() default 1;

    @AttributeDefinition(description = "Handshake offered to clients: same (as the upstream), newstyle or oldstyle")
    String handshake() default "same";

    @AttributeDefinition(description = "Payload bytes held for all clients at once (write data kept for"
            + " retransmission, read data on its way back); past it, clients are not read from")
    long bufferBytes() default 64L * 1024 * 1024;

    @AttributeDefinition(description = "Read-ahead: READs of at most this many bytes are read doubled and the second"
            + " half kept for the next READ; 0 for off. Off when more than one client may be served")
    int cacheBytes() default 0;

    @AttributeDefinition(description = "Seconds a stopping proxy waits for requests in flight")
    int drainSeconds() default 5;

    @AttributeDefinition(description = "Seconds a reply may wait for a client that does not read before that"
            + " client is closed; 0 for never")
    int clientTimeoutSeconds() default 60;

    @AttributeDefinition(description = "Permissions of a UNIX socket, octal")
    String socketMode() default "0600";

    @AttributeDefinition(description = "Group of a UNIX socket; empty for the proxy's")
    String socketGroup() default "";

    @AttributeDefinition(description = "Seconds a client's handshake may take, from the hello to the end of the"
            + " options, before the client is closed and its place goes to the next one (1 to 3600)")
    int handshakeTimeoutSeconds() default 10;

    @AttributeDefinition(description = "Seconds a WRITE's payload may take to arrive once its header has, before"
            + " the client is closed and its share of the payload budget freed (1 to 3600)")
    int payloadTimeoutSeconds() default 30;

    @AttributeDefinition(description = "TLS for clients: off (STARTTLS refused); on (taken when a client asks);"
            + " require (options before STARTTLS refused with NBD_REP_ERR_TLS_REQD)")
    String tls() default "off";

    @AttributeDefinition(description = "Directory with server-cert.pem, server-key.pem and, for tlsVerifyPeer,"
            + " ca-cert.pem, as nbdkit lays it out")
    String tlsCertificates() default "";

    @AttributeDefinition(description = "Ask clients for a certificate signed by ca-cert.pem, and refuse those"
            + " without one")
    boolean tlsVerifyPeer() default false;

    @AttributeDefinition(description = "With tlsVerifyPeer: the names (comma-separated) a client certificate's"
            + " common name (CN) must be one of; empty for any certificate the authority signed")
    String tlsPeerNames() default "";

    @AttributeDefinition(description = "A pre-shared key file (identity:hexkey lines, as psktool writes them and"
            + " nbdkit's --tls-psk reads them) to use instead of certificates; empty for none")
    String tlsPsk() default "";

    @AttributeDefinition(description = "Who may connect: comma-separated IPv4/IPv6 addresses or networks (ADDR/PREFIX)"
            + " for TCP clients, uid:N and gid:N for UNIX-socket clients; empty for everyone")
    String allow() default "";
}
