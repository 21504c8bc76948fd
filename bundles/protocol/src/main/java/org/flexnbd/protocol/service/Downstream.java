package org.flexnbd.protocol.service;

import java.io.IOException;
import java.util.List;

/** The listener that NBD clients connect to. */
public interface Downstream {

    /** Where it listens ("127.0.0.1:10809", or a UNIX socket path); throws with the reason if it could not bind. */
    String listenAddress() throws IOException;

    /** The addresses of the clients being served. */
    List<String> clientAddresses();

    /**
     * Each client's TLS, in the order of {@link #clientAddresses()}: its address, then "negotiating" (during its
     * handshake), "plain", or the protocol, the cipher suite and the subject of its certificate.
     */
    default List<String> clientTls() {
        return List.of();
    }

    /** Requests and payload bytes relayed since start. */
    long requestsRelayed();

    long bytesRelayed();
}
