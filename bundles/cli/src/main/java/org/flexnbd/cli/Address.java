package org.flexnbd.cli;

/**
 * A socket address as the command line gives it: a host and a TCP port, or a UNIX socket path (starting with '/')
 * with port 0.
 */
record Address(String host, int port) {

    static Address unix(String path) {
        return new Address(path, 0);
    }

    static boolean isUnixPath(String address) {
        return address.startsWith("/");
    }

    boolean isUnix() {
        return isUnixPath(host);
    }

    /** "host:port", "[v6:addr]:port", or the UNIX socket path. */
    @Override
    public String toString() {
        if (isUnix()) {
            return host;
        }
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
