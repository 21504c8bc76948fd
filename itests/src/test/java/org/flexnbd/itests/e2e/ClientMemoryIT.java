package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The memory of TLS counted in a client's place. With pre-shared keys on both sides a client held about half a MiB
 * of heap; under the start script's 64 MiB heap, 129 idle ones once ran it out (an OutOfMemoryError in a client's
 * thread and in an upstream loop) while {@code --max-clients} allowed 300. Now the clients beyond what the memory
 * holds wait, unanswered, and are served as others leave. A client now holds about 240 KiB, counted as 320: the heap
 * holds about 145 of them, so more come.
 */
public class ClientMemoryIT {
    private static final int CLIENTS = 220;
    /** Fewer than the listener's backlog (16), where the clients waiting for a place are held. */
    private static final int RELEASED = 10;
    private static final Pattern FIT = Pattern.compile("a client waits for memory: (\\d+) clients fill it");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path dir;
    private Path client;

    @Before
    public void tools() throws Exception {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        dir = tmp.getRoot().toPath();
        client = E2E.pythonClient("idle_clients.py", dir);
    }

    @Test
    public void clientsWithKeysOnBothSidesWaitForMemoryInsteadOfRunningTheHeapOut() throws Exception {
        Path keys = dir.resolve("keys.psk");
        Files.writeString(keys, "alice:" + "0123456789abcdef".repeat(4) + "\n");
        Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rw-------"));
        int upPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, upPort, "-t", "1", "--tls=require", "--tls-psk=" + keys, "memory", "64M")
                .start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), "-C", "nbds://alice@127.0.0.1:" + upPort
                        + "?tls-psk-file=" + keys, "--tls", "require", "--tls-psk", keys.toString(),
                        "--max-clients", "300")) {
            String uri = "nbds://alice@127.0.0.1:" + proxy.port + "?tls-psk-file=" + keys;
            Peer clients = Peer.start(dir, "idle-clients", "/usr/bin/python3", client.toString(), uri,
                    Integer.toString(CLIENTS), Integer.toString(RELEASED));
            try {
                Integer status = clients.waitFor(240);
                assertEquals(clients.stdout() + clients.stderr() + proxy.stderr(), Integer.valueOf(0), status);
            } finally {
                clients.close();
            }
            String out = clients.stdout();
            String log = proxy.stderr();
            assertFalse(log, log.contains("OutOfMemoryError"));
            Matcher fit = FIT.matcher(log);
            assertTrue("no client waited for memory:\n" + log, fit.find());
            int places = Integer.parseInt(fit.group(1));
            assertTrue(places + " places for " + CLIENTS + " clients", places > RELEASED && places < CLIENTS);
            assertTrue(out, out.contains("served " + places + "\n"));
            assertTrue("those who waited took the places given back: " + out, out.contains("then " + places + "\n"));
            assertTrue(out, out.contains("failed 0"));

            // Each client left with a DISCONNECT, whose drain set a timer of a minute: the memory its place was given
            // back for must go with it, not a minute later (a client arriving meanwhile once found the heap full).
            long left = -1;
            long deadline = System.currentTimeMillis() + 15_000;
            while (left != 0 && System.currentTimeMillis() < deadline) {
                left = E2E.liveInstances(proxy.process.pid(), "org.flexnbd.downstream.ClientTransmission", dir);
            }
            assertEquals("clients gone, their transmissions still alive", 0, left);

            Peer info = Peer.run(dir, "nbdinfo", 60, "nbdinfo", "--size", uri);
            assertEquals(info.stderr() + proxy.stderr(), 0, info.exitStatus());
            assertEquals("67108864", info.stdout().strip());
        }
    }
}
