package org.flexnbd.protocol;

import java.io.IOException;

/**
 * The one exception every decoder throws on input that breaks the protocol. It carries the NBD error to answer
 * with, and says whether the stream can still be trusted: after a bad magic or a truncated message it cannot, and
 * the connection must be closed.
 */
public final class NbdException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int error;
    private final boolean fatal;
    private final long cookie;

    private NbdException(String message, int error, boolean fatal, long cookie) {
        super(message);
        this.error = error;
        this.fatal = fatal;
        this.cookie = cookie;
    }

    /** The stream is out of step: close the connection. */
    public static NbdException fatal(String message) {
        return new NbdException(message, Nbd.EINVAL, true, 0);
    }

    /** The request with this cookie is bad but the stream is intact: answer it with {@code error} and go on. */
    public static NbdException reply(String message, int error, long cookie) {
        return new NbdException(message, error, false, cookie);
    }

    /** The NBD error code (errno value) to answer with. */
    public int error() {
        return error;
    }

    public boolean isFatal() {
        return fatal;
    }

    /** The cookie of the request to answer, when not fatal. */
    public long cookie() {
        return cookie;
    }
}
