package org.flexnbd.upstream;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "flexnbd upstream", description = "The NBD server the proxy relays to")
@interface UpstreamConfig {
    @AttributeDefinition(description = "Host name or IP address; a path starting with / is a UNIX socket")
    String address();

    @AttributeDefinition(description = "TCP port; 0 for a UNIX socket")
    int port() default 0;

    @AttributeDefinition(description = "Local address to connect from; empty for any")
    String bind() default "";

    @AttributeDefinition(description = "Export name to ask a newstyle server for")
    String exportName() default "";

    @AttributeDefinition(description = "TLS to the upstream: off; on (when the server offers it); require (never"
            + " plain text: a server that does not agree to STARTTLS is a failure)")
    String tls() default "off";

    @AttributeDefinition(description = "Directory with ca-cert.pem (else the system's trust store) and optionally"
            + " client-cert.pem and client-key.pem, as libnbd lays it out; empty for none")
    String tlsCertificates() default "";

    @AttributeDefinition(description = "A pre-shared key file (identity:hexkey lines, as psktool writes them) to use"
            + " instead of certificates; empty for none")
    String tlsPsk() default "";

    @AttributeDefinition(description = "The identity of tlsPsk to prove; empty for the file's first")
    String tlsUsername() default "";

    @AttributeDefinition(description = "Seconds without progress, with requests outstanding, before the connection"
            + " is given up and replaced")
    int timeoutSeconds() default 30;

    @AttributeDefinition(description = "Seconds a connection attempt and its handshake may take")
    int connectTimeoutSeconds() default 15;

    @AttributeDefinition(description = "Longest pause between reconnection attempts, in milliseconds")
    int reconnectMaxDelayMillis() default 5000;

    @AttributeDefinition(description = "Bytes of acknowledged writes kept until a FLUSH makes them durable, to be"
            + " written again if the upstream is lost; 0 switches the journal off")
    long journalBytes() default 32L * 1024 * 1024;
}
