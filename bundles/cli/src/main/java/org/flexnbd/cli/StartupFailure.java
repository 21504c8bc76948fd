package org.flexnbd.cli;

/** Start-up cannot go on: the one-line reason, logged as a fatal line, and the exit status. */
final class StartupFailure extends Exception {
    private static final long serialVersionUID = 1L;

    private final int status;

    StartupFailure(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    int status() {
        return status;
    }
}
