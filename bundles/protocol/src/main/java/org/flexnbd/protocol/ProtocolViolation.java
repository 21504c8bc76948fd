package org.flexnbd.protocol;

import java.io.IOException;

/**
 * A server's reply that breaks a rule of the protocol for the request it answers, or for what was negotiated. The
 * stream may still be in step, but the server can no longer be trusted: the connection is given up (the spec lets a
 * client hard-disconnect on a violation of a mandatory condition) and nothing of the reply is passed on.
 */
public final class ProtocolViolation extends IOException {
    private static final long serialVersionUID = 1L;

    private final long cookie;

    public ProtocolViolation(long cookie, String rule) {
        super(String.format("cookie %016x: %s", cookie, rule));
        this.cookie = cookie;
    }

    /** The cookie of the reply that broke the rule. */
    public long cookie() {
        return cookie;
    }
}
