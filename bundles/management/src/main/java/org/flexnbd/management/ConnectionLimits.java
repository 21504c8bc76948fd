package org.flexnbd.management;

/**
 * Bounds on the JMX connector's connections, each of which RMI serves with a thread of its own.
 *
 * @param maxConnections connections open at once; more are closed as soon as they are accepted
 * @param idleMillis a connection that sends nothing this long is closed (a JMX client opens a new one when it needs
 *        one; JConsole polls every few seconds)
 */
record ConnectionLimits(int maxConnections, int idleMillis) {
    ConnectionLimits {
        if (maxConnections < 1 || idleMillis < 1) {
            throw new IllegalArgumentException("JMX connection limits must be positive: " + maxConnections + ", "
                    + idleMillis + " ms");
        }
    }
}
