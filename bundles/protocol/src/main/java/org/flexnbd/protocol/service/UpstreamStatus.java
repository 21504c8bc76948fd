package org.flexnbd.protocol.service;

/**
 * A snapshot of the upstream side for management.
 *
 * @param state one of CONNECTED, RECONNECTING, STOPPING
 * @param address the upstream's address as configured (host:port or a UNIX socket path)
 * @param inFlight requests sent or waiting to be sent, without a complete reply yet
 * @param reconnects reconnections since start
 * @param retransmissions requests sent again after a reconnect
 * @param lastFailure why the upstream was last lost, empty if never
 * @param lastFailureMillis when, in milliseconds since the epoch, 0 if never
 * @param exportSize the export's size in bytes, -1 before the first connection
 * @param exportFlags the export's transmission flags, 0 before the first connection
 * @param journalRequests acknowledged writes kept in the journal, not yet covered by a FLUSH
 * @param journalBytes their bytes (payloads and a header each)
 * @param journalReplays how often the journal was written again after an upstream loss
 * @param tls the TLS protocol and cipher suite of a current connection, empty in plain text or when none
 * @param peerSubject the subject of the upstream's certificate, empty in plain text or when none
 */
public record UpstreamStatus(String state, String address, int inFlight, long reconnects, long retransmissions,
        String lastFailure, long lastFailureMillis, long exportSize, int exportFlags, int journalRequests,
        long journalBytes, long journalReplays, String tls, String peerSubject) {

    /** A status in plain text, as before TLS was known here. */
    public UpstreamStatus(String state, String address, int inFlight, long reconnects, long retransmissions,
            String lastFailure, long lastFailureMillis, long exportSize, int exportFlags, int journalRequests,
            long journalBytes, long journalReplays) {
        this(state, address, inFlight, reconnects, retransmissions, lastFailure, lastFailureMillis, exportSize,
                exportFlags, journalRequests, journalBytes, journalReplays, "", "");
    }
}
