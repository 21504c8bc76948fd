package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

import org.flexnbd.protocol.Nbd;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * TLS on both sides against real peers, with certificates made at test time by {@code tools/make-certs.sh}: nbdkit
 * {@code --tls=require} upstream; nbdinfo, nbdcopy and qemu-img as clients; kills of the upstream during a copy;
 * client certificates checked; a downgrade across a reconnect that never gets a byte of plain text.
 */
public class TlsIT {
    private static final Path MAKE_CERTS = Path.of("../tools/make-certs.sh").toAbsolutePath();

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path dir;
    private Path shm;
    private Path certs;

    @Before
    public void tools() throws Exception {
        E2E.assumeDistribution();
        E2E.assumeTool("nbdkit");
        E2E.assumeTool("nbdcopy");
        E2E.assumeTool("nbdinfo");
        E2E.assumeTool("nbdsh");
        E2E.assumeTool("openssl");
        dir = tmp.getRoot().toPath();
        shm = E2E.shm("flexnbd-tls");
        certs = makeCerts("certs", "client");
    }

    @After
    public void clean() throws Exception {
        E2E.deleteTree(shm);
    }

    private Path makeCerts(String name, String client) throws Exception {
        Path d = dir.resolve(name);
        Peer p = Peer.run(dir, "make-certs", 60, "sh", MAKE_CERTS.toString(), d.toString(), client);
        assertEquals(p.stderr(), 0, p.exitStatus());
        return d;
    }

    /**
     * nbdkit with TLS required and the proxy's client certificate checked (--tls-verify-peer): the proxy shows it
     * from the folder of its -C URI, where make-certs.sh put client-cert.pem and client-key.pem.
     */
    private Nbdkit tlsUpstream(int port, String... plugin) {
        List<String> args = Peer.list("-t", "1", "--tls=require", "--tls-certificates=" + certs, "--tls-verify-peer");
        args.addAll(List.of(plugin));
        return new Nbdkit(dir, port, args.toArray(new String[0]));
    }

    private String[] bothSides(int upstreamPort, String... more) {
        List<String> flags = Peer.list("-C", "nbds://127.0.0.1:" + upstreamPort + "?tls-certificates=" + certs,
                "--tls", "require", "--tls-certificates", certs.toString(), "-v");
        flags.addAll(List.of(more));
        return flags.toArray(new String[0]);
    }

    private String tlsUri(Proxy proxy, Path clientCerts) {
        return "nbds://127.0.0.1:" + proxy.port + "?tls-certificates=" + clientCerts;
    }

    @Test
    public void nbdinfoAndNbdcopyThroughTlsOnBothSides() throws Exception {
        Path src = E2E.randomFile(shm, "src.img", 64L << 20);
        Path back = shm.resolve("back.img");
        int upPort = Peer.freePort();
        int jmxPort = Peer.freePort();
        try (Nbdkit up = tlsUpstream(upPort, "memory", "64M").start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), bothSides(upPort, new JmxLogin(dir).flags(jmxPort)));
                JMXConnector jmx = JmxLogin.connect(jmxPort)) {
            Peer info = Peer.run(dir, "nbdinfo", 60, "nbdinfo", tlsUri(proxy, certs));
            assertEquals(info.stderr(), 0, info.exitStatus());
            assertTrue(info.stdout(), info.stdout().contains("with TLS"));
            assertTrue(info.stdout(), info.stdout().contains("67108864"));

            Peer in = Peer.run(dir, "nbdcopy", 120, "nbdcopy", "--flush", src.toString(), tlsUri(proxy, certs));
            assertEquals(in.stderr() + proxy.stderr(), 0, in.exitStatus());
            Peer out = Peer.run(dir, "nbdcopy", 120, "nbdcopy", tlsUri(proxy, certs), back.toString());
            assertEquals(out.stderr() + proxy.stderr(), 0, out.exitStatus());
            assertEquals(E2E.sha256(src), E2E.sha256(back));
            assertTrue(proxy.stderr(), proxy.stderr().contains("TLSv1.3"));
            assertFalse("the upstream was never lost: " + proxy.stderr(), proxy.stderr().contains(" lost ("));

            // What an operator sees in JConsole: both sides encrypted, and who the upstream is.
            MBeanServerConnection mbs = jmx.getMBeanServerConnection();
            ObjectName name = new ObjectName("flexnbd:type=Proxy");
            assertTrue((String) mbs.getAttribute(name, "UpstreamTls"),
                    ((String) mbs.getAttribute(name, "UpstreamTls")).startsWith("TLSv1."));
            assertEquals("CN=localhost", mbs.getAttribute(name, "UpstreamPeerSubject"));
            // nbdsh keeps one connection open while we look (it reads files named in a URI only when told to).
            try (Peer reading = Peer.start(dir, "nbdsh", "nbdsh", "-c", "h.set_uri_allow_local_file(True)", "-c",
                    "h.connect_uri('" + tlsUri(proxy, certs) + "')", "-c", "import time; time.sleep(5)")) {
                String[] clients = new String[0];
                for (int i = 0; i < 200 && (clients.length == 0 || clients[0].endsWith(" negotiating"))
                        && reading.isAlive(); i++) {
                    clients = (String[]) mbs.getAttribute(name, "ClientTls");
                    Thread.sleep(10);
                }
                assertEquals(java.util.Arrays.toString(clients), 1, clients.length);
                assertTrue(clients[0], clients[0].matches("127\\.0\\.0\\.1:\\d+ TLSv1\\.\\d .*"));
            }
        }
    }

    /** Pre-shared keys on both sides, as nbdkit and libnbd use them (psktool's file), with a copy checked. */
    @Test
    public void preSharedKeysOnBothSides() throws Exception {
        Path keys = dir.resolve("keys.psk");
        Files.writeString(keys, "alice:" + "0123456789abcdef".repeat(4) + "\nbob:" + "fedcba9876543210".repeat(4)
                + "\n");
        Files.setPosixFilePermissions(keys, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Path src = E2E.randomFile(shm, "src.img", 32L << 20);
        Path back = shm.resolve("back.img");
        int upPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, upPort, "-t", "1", "--tls=require", "--tls-psk=" + keys, "memory", "32M")
                .start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), "-C", "nbds://bob@127.0.0.1:" + upPort
                        + "?tls-psk-file=" + keys, "--tls", "require", "--tls-psk", keys.toString(), "-v",
                        "--debug")) {
            String uri = "nbds://alice@127.0.0.1:" + proxy.port + "?tls-psk-file=" + keys;
            Peer in = Peer.run(dir, "nbdcopy", 120, "nbdcopy", "--flush", src.toString(), uri);
            assertEquals(in.stderr() + proxy.stderr(), 0, in.exitStatus());
            Peer out = Peer.run(dir, "nbdcopy", 120, "nbdcopy", uri, back.toString());
            assertEquals(out.stderr() + proxy.stderr(), 0, out.exitStatus());
            assertEquals(E2E.sha256(src), E2E.sha256(back));
            assertTrue(proxy.stderr(), proxy.stderr().contains("psk:alice"));
            // DHE_PSK_WITH_AES_128_GCM_SHA256 on both sides: the JDK runs AES-GCM on the processor's AES instructions,
            // 6 times the throughput of Bouncy Castle's own ChaCha20 measured here.
            assertTrue(proxy.stderr(), proxy.stderr().contains("PSK cipher suite 0x00aa, certificate psk:alice"));
            assertTrue(proxy.stderr(), proxy.stderr().contains("PSK cipher suite 0x00aa, certificate psk:bob"));
            Path carols = dir.resolve("carol.psk");
            Files.writeString(carols, "carol:" + "0123456789abcdef".repeat(4) + "\n");
            Files.setPosixFilePermissions(carols,
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            Peer stranger = Peer.run(dir, "nbdinfo", 60, "nbdinfo", "nbds://carol@127.0.0.1:" + proxy.port
                    + "?tls-psk-file=" + carols);
            assertNotEquals("an identity not in the file was served", 0, stranger.exitStatus());
        }
    }

    /**
     * A JVM whose key limit is 16 MiB (as the reviewer's reproduction had it; 2^37 bytes by default): past it, JDK
     * 17 renews its key with a stream of KeyUpdate messages that makes GnuTLS drop the connection. The proxy never
     * starts a renewal, so a 256 MiB copy each way, 16 times the limit, goes through on both of its sides.
     */
    @Test
    public void aLowKeyLimitDoesNotEndConnections() throws Exception {
        Path limits = dir.resolve("key-limits.security");
        Files.writeString(limits, "jdk.tls.keyLimits=AES/GCM/NoPadding KeyUpdate 2^24, "
                + "ChaCha20-Poly1305 KeyUpdate 2^24\n");
        Path src = E2E.randomFile(shm, "src.img", 256L << 20);
        Path back = shm.resolve("back.img");
        int upPort = Peer.freePort();
        try (Nbdkit up = tlsUpstream(upPort, "memory", "256M").start();
                Proxy proxy = Proxy.startWithJavaOpts(dir, Peer.freePort(), "-Djava.security.properties=" + limits,
                        bothSides(upPort))) {
            Peer in = Peer.run(dir, "nbdcopy", 180, "nbdcopy", "-C", "1", "--flush", src.toString(),
                    tlsUri(proxy, certs));
            assertEquals(in.stderr() + proxy.stderr(), 0, in.exitStatus());
            Peer out = Peer.run(dir, "nbdcopy", 180, "nbdcopy", "-C", "1", tlsUri(proxy, certs), back.toString());
            assertEquals(out.stderr() + proxy.stderr(), 0, out.exitStatus());
            assertEquals(E2E.sha256(src), E2E.sha256(back));
            assertFalse("the upstream was never lost: " + proxy.stderr(), proxy.stderr().contains(" lost ("));
        }
    }

    @Test
    public void aPlainClientIsRefusedWhenTlsIsRequired() throws Exception {
        int upPort = Peer.freePort();
        try (Nbdkit up = tlsUpstream(upPort, "memory", "1M").start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), bothSides(upPort))) {
            Peer plain = Peer.run(dir, "nbdinfo", 60, "nbdinfo", proxy.uri());
            // libnbd reports NBD_REP_ERR_TLS_REQD as "Operation not supported" (ServerTlsTest checks the reply)
            assertNotEquals("a plain client was served", 0, plain.exitStatus());
            assertFalse(proxy.stderr(), proxy.stderr().contains("connected (newstyle"));
            // and the proxy goes on serving
            Peer info = Peer.run(dir, "nbdinfo", 60, "nbdinfo", tlsUri(proxy, certs));
            assertEquals(info.stderr(), 0, info.exitStatus());
        }
    }

    @Test
    public void qemuImgWithATlsCredsObject() throws Exception {
        E2E.assumeTool("qemu-img");
        Path src = E2E.randomFile(shm, "src.img", 16L << 20);
        Path back = shm.resolve("back.img");
        int upPort = Peer.freePort();
        try (Nbdkit up = tlsUpstream(upPort, "memory", "16M").start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), bothSides(upPort))) {
            String creds = "tls-creds-x509,id=tls0,endpoint=client,dir=" + certs;
            String target = "driver=nbd,host=127.0.0.1,port=" + proxy.port + ",tls-creds=tls0";
            Peer write = Peer.run(dir, "qemu-img", 120, "qemu-img", "convert", "-n", "--object", creds, "-f", "raw",
                    src.toString(), "--target-image-opts", target);
            assertEquals(write.stderr() + proxy.stderr(), 0, write.exitStatus());
            Peer read = Peer.run(dir, "qemu-img", 120, "qemu-img", "convert", "--object", creds, "--image-opts",
                    target, "-O", "raw", back.toString());
            assertEquals(read.stderr() + proxy.stderr(), 0, read.exitStatus());
            assertEquals(E2E.sha256(src), E2E.sha256(back));
        }
    }

    @Test
    public void clientCertificatesAreCheckedUnderVerifyPeer() throws Exception {
        Path stranger = makeCerts("stranger", "stranger");
        Path noCert = Files.createDirectories(dir.resolve("ca-only"));
        Files.copy(certs.resolve("ca-cert.pem"), noCert.resolve("ca-cert.pem"));
        // Our authority to check the server, a client certificate from another one.
        Path wrongCert = Files.createDirectories(dir.resolve("wrong-client"));
        Files.copy(certs.resolve("ca-cert.pem"), wrongCert.resolve("ca-cert.pem"));
        Files.copy(stranger.resolve("client-cert.pem"), wrongCert.resolve("client-cert.pem"));
        Files.copy(stranger.resolve("client-key.pem"), wrongCert.resolve("client-key.pem"));
        int upPort = Peer.freePort();
        try (Nbdkit up = tlsUpstream(upPort, "memory", "1M").start();
                Proxy proxy = Proxy.start(dir, Peer.freePort(), bothSides(upPort, "--tls-verify-peer"))) {
            for (Path refused : new Path[] {noCert, wrongCert}) {
                Peer p = Peer.run(dir, "nbdinfo", 60, "nbdinfo", tlsUri(proxy, refused));
                assertNotEquals("served with " + refused.getFileName(), 0, p.exitStatus());
            }
            Peer ok = Peer.run(dir, "nbdinfo", 60, "nbdinfo", tlsUri(proxy, certs));
            assertEquals(ok.stderr() + proxy.stderr(), 0, ok.exitStatus());
            assertTrue(proxy.stderr(), proxy.stderr().contains("CN=client"));
        }
    }

    @Test
    public void aKeyOthersMayReadStopsTheStartAndIsNeverShown() throws Exception {
        Path open = Files.createDirectories(dir.resolve("open-key"));
        for (String f : new String[] {"server-cert.pem", "server-key.pem", "ca-cert.pem"}) {
            Files.copy(certs.resolve(f), open.resolve(f));
        }
        Files.setPosixFilePermissions(open.resolve("server-key.pem"),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        String keyLine = Files.readAllLines(open.resolve("server-key.pem")).get(1);
        int upPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, upPort, "memory", "1M").start();
                Peer proxy = Proxy.launch(dir, "-l", "127.0.0.1", "-p", Integer.toString(Peer.freePort()), "-C",
                        "127.0.0.1", "-P", Integer.toString(upPort), "--tls", "require", "--tls-certificates",
                        open.toString())) {
            Integer status = proxy.waitFor(60);
            assertNotEquals("the proxy served with a key others may read", Integer.valueOf(0), status);
            assertTrue(proxy.stderr(), proxy.stderr().contains("chmod 600"));
            assertFalse("key material in the log", proxy.stderr().contains(keyLine));
        }
    }

    @Test
    public void peerNamesRestrictTheCertificatesTaken() throws Exception {
        int upPort = Peer.freePort();
        try (Nbdkit up = tlsUpstream(upPort, "memory", "1M").start();
                Proxy others = Proxy.start(dir, Peer.freePort(), bothSides(upPort, "--tls-verify-peer",
                        "--tls-peer-names", "alice,bob"));
                Proxy ours = Proxy.start(dir, Peer.freePort(), bothSides(upPort, "--tls-verify-peer",
                        "--tls-peer-names", "alice, client"))) {
            Peer refused = Peer.run(dir, "nbdinfo", 60, "nbdinfo", tlsUri(others, certs));
            assertNotEquals("CN=client served by a proxy for alice and bob", 0, refused.exitStatus());
            Peer ok = Peer.run(dir, "nbdinfo", 60, "nbdinfo", tlsUri(ours, certs));
            assertEquals(ok.stderr() + ours.stderr(), 0, ok.exitStatus());
        }
    }

    @Test
    public void copiesSurviveUpstreamKillsWithTlsOnBothSides() throws Exception {
        long size = 256L << 20;
        Path disk = emptyDisk(size);
        Path src = E2E.randomFile(shm, "src.img", size);
        Path back = shm.resolve("back.img");
        int upPort = Peer.freePort();
        // Throttled (the rate filter counts bits) so that the kills land mid-copy.
        String[] plugin = {"--filter=rate", "file", disk.toString(), "rate=256M"};
        Nbdkit up = tlsUpstream(upPort, plugin).start();
        try (Proxy proxy = Proxy.start(dir, Peer.freePort(), bothSides(upPort))) {
            Peer copy = Peer.start(dir, "nbdcopy", "nbdcopy", "--flush", src.toString(), tlsUri(proxy, certs));
            up = killAndRestart(up, upPort, plugin, copy, 2);
            assertEquals("nbdcopy: " + copy.stderr() + "\nproxy: " + proxy.stderr(), Integer.valueOf(0),
                    copy.waitFor(300));
            assertEquals(E2E.sha256(src), E2E.sha256(disk));

            copy = Peer.start(dir, "nbdcopy", "nbdcopy", tlsUri(proxy, certs), back.toString());
            up = killAndRestart(up, upPort, plugin, copy, 2);
            assertEquals("nbdcopy: " + copy.stderr() + "\nproxy: " + proxy.stderr(), Integer.valueOf(0),
                    copy.waitFor(300));
            assertEquals(E2E.sha256(src), E2E.sha256(back));
            assertTrue(proxy.stderr(), proxy.stderr().contains("retransmitting"));
        } finally {
            up.close();
        }
    }

    /** The file an nbdkit file plugin serves, throttled so that kills land mid-copy (the rate filter counts bits). */
    private Path emptyDisk(long size) throws java.io.IOException {
        Path disk = shm.resolve("upstream.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(size);
        }
        return disk;
    }

    private Nbdkit killAndRestart(Nbdkit up, int port, String[] plugin, Peer copy, int kills) throws Exception {
        for (int i = 0; i < kills; i++) {
            Thread.sleep(1500);
            assertTrue("the copy is still running when kill " + (i + 1) + " comes", copy.isAlive());
            up.kill9();
            Thread.sleep(1500);
            up = tlsUpstream(port, plugin).start();
        }
        return up;
    }

    /**
     * The upstream comes back without TLS: the proxy asks it for STARTTLS, is refused, and sends nothing else, for
     * as long as it stays so; when TLS comes back the copy goes on, and its data checks out.
     */
    @Test
    public void aDowngradeAcrossAReconnectNeverGetsPlainText() throws Exception {
        long size = 128L << 20;
        Path disk = emptyDisk(size);
        Path src = E2E.randomFile(shm, "src.img", size);
        int upPort = Peer.freePort();
        String[] plugin = {"--filter=rate", "file", disk.toString(), "rate=256M"};
        Nbdkit up = tlsUpstream(upPort, plugin).start();
        try (Proxy proxy = Proxy.start(dir, Peer.freePort(), bothSides(upPort))) {
            Peer copy = Peer.start(dir, "nbdcopy", "nbdcopy", "--flush", src.toString(), tlsUri(proxy, certs));
            Thread.sleep(1500);
            assertTrue("the copy is still running", copy.isAlive());
            up.kill9();
            List<byte[]> seen;
            try (PlainNewstyleServer plain = new PlainNewstyleServer(upPort)) {
                Thread.sleep(4000);
                seen = List.copyOf(plain.received());
            }
            up = tlsUpstream(upPort, plugin).start();
            assertEquals("nbdcopy: " + copy.stderr() + "\nproxy: " + proxy.stderr(), Integer.valueOf(0),
                    copy.waitFor(300));
            assertEquals(E2E.sha256(src), E2E.sha256(disk));

            assertFalse("the proxy tried the plain server", seen.isEmpty());
            byte[] onlyStartTls = ByteBuffer.allocate(20).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)
                    .putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_STARTTLS).putInt(0).array();
            for (byte[] connection : seen) {
                assertArrayEquals("what one connection sent in plain text", onlyStartTls, connection);
            }
        } finally {
            up.close();
        }
    }
}
