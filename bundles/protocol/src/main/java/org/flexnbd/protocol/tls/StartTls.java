package org.flexnbd.protocol.tls;

import java.io.IOException;

/** What a handshake calls once both ends have agreed to NBD_OPT_STARTTLS: the TLS handshake itself. */
@FunctionalInterface
public interface StartTls {
    /** Runs TLS over the connection; throws, and the connection is then closed, when it fails. */
    void start() throws IOException;
}
