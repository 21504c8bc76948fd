package org.flexnbd.launcher.logging;

import java.util.logging.Level;
import java.util.logging.Logger;

import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;

/**
 * The framework's log ({@code felix.log.logger}; the resolver logs through it too) sent to java.util.logging instead
 * of stdout: framework errors become warnings, its warnings information, the rest debug lines.
 */
public final class FelixLog extends org.apache.felix.framework.Logger {
    private final Logger logger = Logger.getLogger("org.apache.felix.framework");

    @Override
    protected void doLog(Bundle bundle, @SuppressWarnings("rawtypes") ServiceReference service, int level,
            String message, Throwable throwable) {
        String about = service != null ? "service " + service + ": " : bundle != null ? "bundle " + bundle + ": " : "";
        doLog(level, about + message, throwable);
    }

    @Override
    protected void doLog(int level, String message, Throwable throwable) {
        Level l = switch (level) {
            case LOG_ERROR -> Level.WARNING;
            case LOG_WARNING -> Level.INFO;
            default -> Level.FINE;
        };
        logger.log(l, message, throwable);
    }
}
