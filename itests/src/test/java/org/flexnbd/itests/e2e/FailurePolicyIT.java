package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.flexnbd.protocol.Reply;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Real failures forced on the background pieces, each handled by its policy (README, Failure policies): logged
 * (E), and the piece goes on. No test-only switch in the product: the failures are the operating system's.
 */
public class FailurePolicyIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Before
    public void distribution() {
        E2E.assumeDistribution();
        E2E.assumeTool("prlimit");
    }

    /**
     * The file table full (the soft limit on open files lowered, with prlimit, below what the proxy has open: some
     * come and go, such as the JVM's own): accept
     * fails with EMFILE. The accept thread logs it, pauses and tries again; once the limit is raised the waiting
     * client is served (it may be served sooner: the JVM closes some of its own files now and then), and so is the
     * next.
     */
    @Test
    public void theAcceptThreadSurvivesAFullFileTable() throws Exception {
        Path dir = tmp.getRoot().toPath();
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
                Proxy proxy = Proxy.start(dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port()))) {
            String pid = Long.toString(proxy.process.pid());
            try (ScriptedClient first = new ScriptedClient(proxy.port)) {
                assertEquals(0, first.call(ScriptedClient.read(1, 0, 4096)).error()); // the path is warm
            }
            Thread.sleep(500);
            String soft = Peer.run(dir, "prlimit", 10, "prlimit", "--pid", pid, "--nofile", "--raw", "--noheadings",
                    "-o", "SOFT").stdout().trim();
            long open;
            try (var fds = Files.list(Path.of("/proc", pid, "fd"))) {
                open = fds.count();
            }
            assertEquals(0, Peer.run(dir, "prlimit", 10, "prlimit", "--pid", pid, "--nofile=" + (open - 4) + ":")
                    .exitStatus());
            CompletableFuture<Reply> waiting;
            try {
                waiting = E2E.async(() -> {
                    try (ScriptedClient c = new ScriptedClient(proxy.port)) {
                        return c.call(ScriptedClient.read(2, 0, 4096));
                    }
                });
                awaitLog(proxy, "cannot accept or start a client");
            } finally {
                Peer.run(dir, "prlimit", 10, "prlimit", "--pid", pid, "--nofile=" + soft + ":");
            }
            assertEquals(0, waiting.get(10, TimeUnit.SECONDS).error());
            try (ScriptedClient next = new ScriptedClient(proxy.port)) {
                assertEquals(0, next.call(ScriptedClient.read(3, 0, 4096)).error());
            }
            String err = proxy.stderr();
            assertTrue(err, err.lines().anyMatch(l -> l.startsWith("E:") && l.contains("downstream-accept")
                    && l.contains("Too many open files")));
            assertTrue(proxy.process.isAlive());
        }
    }

    /**
     * The configuration folder removed under the running appliance: the watcher logs it (E), and once the folder is
     * back, an edit to a .cfg file in it is applied again.
     */
    @Test
    public void theConfigWatcherSurvivesItsFolderGoingAway() throws Exception {
        Path dir = tmp.getRoot().toPath();
        Path home = E2E.copyOfTheDistribution(dir.resolve("appliance"));
        Path config = home.resolve("config");
        Path saved = Files.createDirectories(dir.resolve("saved"));
        try (ScriptedUpstream up = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
                Proxy proxy = Proxy.startIn(home, dir, Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port()), "-v")) {
            try (var files = Files.list(config)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.copy(f, saved.resolve(f.getFileName()));
                }
            }
            E2E.deleteTree(config);
            awaitLog(proxy, "no longer watching");
            Files.createDirectories(config);
            awaitLog(proxy, "for configuration changes again");
            Path cfg = config.resolve("org.flexnbd.upstream.cfg");
            Path edited = config.resolve("org.flexnbd.upstream.cfg.new");
            Files.writeString(edited, Files.readString(saved.resolve("org.flexnbd.upstream.cfg"))
                    .replace("timeoutSeconds=30", "timeoutSeconds=29"));
            Files.move(edited, cfg, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            awaitLog(proxy, "org.flexnbd.upstream.cfg changed");
            String err = proxy.stderr();
            assertTrue(err, err.lines().anyMatch(l -> l.startsWith("E:") && l.contains("no longer watching")));
            assertTrue(proxy.process.isAlive());
        }
    }

    private static void awaitLog(Proxy proxy, String text) throws Exception {
        String log = proxy.awaitStderr(l -> l.contains(text), 10);
        assertTrue(log, log.contains(text));
    }
}
