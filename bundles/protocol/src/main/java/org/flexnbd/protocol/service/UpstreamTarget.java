package org.flexnbd.protocol.service;

/**
 * Where {@link Upstream#retarget} moved an upstream service, and the configured server it moved away from: what the
 * next service needs to know to stay on the server the operator chose last.
 *
 * @param replaced the configured server the retarget replaced, as {@link UpstreamStatus#address()} shows it
 *     (host:port or a UNIX socket path)
 * @param address where the service connects now (a UNIX socket path, or a host)
 * @param port the port there (0 for a UNIX socket)
 */
public record UpstreamTarget(String replaced, String address, int port) {
}
