package org.flexnbd.downstream;

import org.flexnbd.protocol.service.Upstream;

/** What a client session needs from the listener that accepted it. */
interface SessionHost {

    /** The Upstream service now bound, or null while there is none (during a hot update of its bundle). */
    Upstream upstream();

    PayloadBudget budget();

    ClientLimits limits();

    /** TLS as clients are offered it. */
    ClientTls tls();

    /** same, newstyle or oldstyle. */
    String handshake();

    /** Whether more than one client may be served, so CAN_MULTI_CONN may be passed on. */
    boolean multiConnAllowed();

    /** The read-ahead cache's size for each client, 0 when it is off. */
    int readAheadBytes();

    void relayed(long payloadBytes);

    void ended(ClientSession session);
}
