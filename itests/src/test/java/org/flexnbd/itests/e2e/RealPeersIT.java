package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Request;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** nbdkit upstreams (newstyle and oldstyle) with nbdinfo, qemu-io and nbdcopy as clients, through the proxy. */
public class RealPeersIT {
    private static final long GIB = 1L << 30;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path shm;

    @Before
    public void tools() throws Exception {
        E2E.assumeDistribution();
        for (String tool : new String[] {"nbdkit", "nbdinfo", "nbdcopy", "qemu-io"}) {
            E2E.assumeTool(tool);
        }
        shm = E2E.shm("flexnbd-peers");
    }

    @After
    public void clean() throws Exception {
        E2E.deleteTree(shm);
    }

    private Path dir() {
        return tmp.getRoot().toPath();
    }

    private String run(String name, String... command) throws Exception {
        try (Peer p = Peer.run(dir(), name, 300, command)) {
            assertEquals(name + " failed: " + p.stderr(), 0, p.exitStatus());
            return p.stdout();
        }
    }

    /** nbdinfo's JSON, less the URI (which names the port it connected to). */
    private String describe(String uri) throws Exception {
        return run("nbdinfo", "nbdinfo", "--json", uri).replaceAll("\"uri\": \"[^\"]*\",?", "");
    }

    @Test
    public void newstyleUpstreamLooksTheSameThroughTheProxy() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "memory", "1G").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--max-clients", "4")) {
            assertEquals(describe(up.uri()), describe(proxy.uri()));
            String qemu = run("qemu-io", "qemu-io", "-f", "raw", proxy.uri(), "-c", "write -P 0xab 0 1M", "-c",
                    "read -P 0xab 0 1M", "-c", "write -P 0xcd 512M 4M", "-c", "read -P 0xcd 512M 4M");
            assertTrue(qemu, qemu.contains("read 4194304/4194304 bytes at offset 536870912"));
            assertTrue(qemu, !qemu.contains("Pattern verification failed"));
            copyBothWays(proxy.uri(), true);
        }
    }

    /**
     * BLOCK_STATUS from a client that selected no meta context is refused as nbdkit refuses it, though the proxy's
     * own connection selected base:allocation: it got a success with no extents through the proxy, EINVAL direct.
     */
    @Test
    public void blockStatusWithoutAMetaContextGetsEinvalAsDirect() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port))) {
            for (int port : new int[] {up.port, proxy.port}) {
                try (ScriptedClient c = new ScriptedClient(port)) { // simple replies, no meta context
                    assertEquals("port " + port, Nbd.EINVAL,
                            c.call(Request.of(Nbd.CMD_BLOCK_STATUS, 0, 1, 0, 4096)).error());
                    assertEquals("port " + port, 0, c.call(ScriptedClient.read(3, 0, 4096)).error());
                }
            }
        }
    }

    /**
     * The read-ahead doubles small READs: never beyond the largest request the upstream takes, which refused the
     * doubled READ (EINVAL for READs the client made right).
     */
    @Test
    public void theReadAheadStaysWithinTheUpstreamsLargestRequest() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "--filter=blocksize-policy", "memory", "64M",
                "blocksize-minimum=512", "blocksize-maximum=4096", "blocksize-error-policy=error").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--cache")) {
            String qemu = run("qemu-io", "qemu-io", "-f", "raw", proxy.uri(), "-c", "read 0 4k", "-c",
                    "read 4k 4k", "-c", "read 12k 2k");
            assertTrue(qemu, qemu.contains("read 4096/4096 bytes at offset 4096"));
            assertTrue(qemu, qemu.contains("read 2048/2048 bytes at offset 12288"));
            assertTrue(qemu, !qemu.contains("Invalid argument"));
        }
    }

    @Test
    public void singleClientProxyHidesMultiConn() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "memory", "64M").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port))) {
            assertTrue(describe(up.uri()).contains("\"can_multi_conn\": true"));
            assertTrue(describe(proxy.uri()).contains("\"can_multi_conn\": false"));
        }
    }

    @Test
    public void oldstyleUpstreamIsOfferedAsItSpeaksOrAsNewstyle() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "-o", "memory", "1G").start();
                Proxy same = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port));
                Proxy newstyle = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--handshake", "newstyle")) {
            assertTrue(run("nbdinfo", "nbdinfo", same.uri()).contains("protocol: oldstyle"));
            String info = run("nbdinfo", "nbdinfo", newstyle.uri());
            assertTrue(info, info.contains("protocol: newstyle-fixed"));
            assertTrue(info, info.contains("export-size: 1073741824"));
            // nbdkit -o advertises FLUSH but answers it with EINVAL (PEERS.md): copy without --flush.
            copyBothWays(newstyle.uri(), false);
        }
    }

    @Test
    public void oldstyleClientInFrontOfANewstyleUpstream() throws Exception {
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "memory", "256M").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--handshake", "oldstyle")) {
            String info = run("nbdinfo", "nbdinfo", proxy.uri());
            assertTrue(info, info.contains("protocol: oldstyle"));
            assertTrue(info, info.contains("export-size: 268435456"));
            Path src = E2E.randomFile(shm, "src-old.img", 256L << 20);
            Path back = shm.resolve("back-old.img");
            run("nbdcopy", "nbdcopy", src.toString(), proxy.uri());
            run("nbdcopy", "nbdcopy", proxy.uri(), back.toString());
            assertEquals(E2E.sha256(src), E2E.sha256(back));
        }
    }

    /**
     * Four clients at once, each with requests of the largest size, writing and reading back their own quarter
     * (fio checks a crc32c of every block): the payload budget and the JVM's direct buffers must both hold. 32 MiB
     * transfers once exhausted the direct memory, and the clients' requests went unanswered.
     */
    @Test
    public void largestRequestsFromFourClientsAtOnce() throws Exception {
        E2E.assumeTool("fio");
        try (Nbdkit up = new Nbdkit(dir(), Peer.freePort(), "memory", "512M").start();
                Proxy proxy = Proxy.start(dir(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                        Integer.toString(up.port), "--max-clients", "4")) {
            Path report = dir().resolve("fio.txt");
            // fio's nbd engine prints a line of its own on stdout: the report goes to a file.
            run("fio", "fio", "--name=big", "--ioengine=nbd", "--uri=" + proxy.uri(), "--rw=write", "--bs=32m",
                    "--iodepth=4", "--numjobs=4", "--size=128m", "--offset_increment=128m", "--verify=crc32c",
                    "--do_verify=1", "--verify_state_save=0", "--output=" + report);
            String out = java.nio.file.Files.readString(report);
            assertEquals(out, 4, out.split("err= 0", -1).length - 1);
            assertTrue(out, out.contains("READ: bw=") && out.contains("io=512MiB"));
        }
    }

    private void copyBothWays(String uri, boolean flush) throws Exception {
        Path src = E2E.randomFile(shm, "src.img", GIB);
        Path back = shm.resolve("back.img");
        if (flush) {
            run("nbdcopy", "nbdcopy", "--flush", src.toString(), uri);
        } else {
            run("nbdcopy", "nbdcopy", src.toString(), uri);
        }
        run("nbdcopy", "nbdcopy", uri, back.toString());
        assertEquals(E2E.sha256(src), E2E.sha256(back));
        java.nio.file.Files.delete(back);
        java.nio.file.Files.delete(src);
    }
}
