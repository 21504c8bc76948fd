package org.flexnbd.downstream;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.logging.Logger;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The door of one listener: asks the {@link AllowList} about each accepted client, before it takes a place or is sent
 * a byte. Refusals are warnings, rate-limited as a whole: anyone who can reach the port can make them, and a flood of
 * connections must not become a flood of log lines.
 */
final class ClientAdmission {
    private static final Logger LOG = Logger.getLogger(ClientAdmission.class.getName());

    private final AllowList allow;
    private final boolean unixListener;
    private final RateLimitedWarnings refusals;

    ClientAdmission(AllowList allow, boolean unixListener) {
        this.allow = allow;
        this.unixListener = unixListener;
        this.refusals = new RateLimitedWarnings(LOG, "refused clients");
    }

    /** Whether the client may be served; a refused one is logged, and the caller closes it. */
    boolean admits(SocketChannel client) {
        if (allow.everyone()) {
            return true;
        }
        try {
            if (unixListener) {
                UnixDomainPrincipal peer = client.getOption(ExtendedSocketOptions.SO_PEERCRED);
                return allow.permits(peer) || refused("UNIX-socket client (user " + peer.user().getName()
                        + ", group " + peer.group().getName() + ")");
            }
            InetSocketAddress peer = (InetSocketAddress) client.getRemoteAddress();
            return allow.permits(peer.getAddress())
                    || refused("client " + String.valueOf(peer).replaceFirst("^/", ""));
        } catch (IOException | UnsupportedOperationException e) {
            // A client that has already gone, or credentials the system would not give: not let in unknown.
            return refused("client (" + (unixListener ? "credentials" : "address") + " unknown: " + e.getMessage()
                    + ")");
        }
    }

    private boolean refused(String who) {
        refusals.warn(who + " refused: not in allow");
        return false;
    }

    /** Tells how many refusals went unlogged; the listener has closed. */
    void close() {
        refusals.close();
    }
}
