package org.flexnbd.launcher;

/** The appliance cannot be started: a broken installation. The message is logged as a fatal line. */
final class LaunchException extends Exception {
    private static final long serialVersionUID = 1L;

    LaunchException(String message, Throwable cause) {
        super(message, cause);
    }
}
