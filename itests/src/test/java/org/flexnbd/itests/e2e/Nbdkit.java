package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** An nbdkit upstream on 127.0.0.1, in the foreground so that its PID is the process's own. */
public final class Nbdkit implements AutoCloseable {
    public final int port;
    private final Path dir;
    private final List<String> args;
    private Peer process;

    /** {@code args}: filters and plugin, e.g. {@code "memory", "1G"}. */
    public Nbdkit(Path dir, int port, String... args) {
        this.dir = dir;
        this.port = port;
        this.args = List.of(args);
    }

    public Nbdkit start() throws IOException, InterruptedException {
        List<String> cmd = Peer.list("nbdkit", "-f", "-i", "127.0.0.1", "-p", Integer.toString(port));
        cmd.addAll(args);
        process = Peer.start(dir, "nbdkit", cmd);
        Peer.awaitPort(port, 10);
        return this;
    }

    public void kill9() throws IOException, InterruptedException {
        process.signal("KILL");
        process.waitFor(10);
    }

    public String uri() {
        return "nbd://127.0.0.1:" + port;
    }

    @Override
    public void close() {
        if (process != null) {
            process.close();
        }
    }
}
