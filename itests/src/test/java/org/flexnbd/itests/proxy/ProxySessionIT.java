package org.flexnbd.itests.proxy;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import javax.inject.Inject;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.ScriptedClient;
import org.flexnbd.itests.osgi.Await;
import org.flexnbd.itests.osgi.Provisioning;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.service.Downstream;
import org.flexnbd.protocol.service.Upstream;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/** The real bundles wired by SCR, configured through ConfigAdmin, relaying a session to a real nbdkit. */
@RunWith(PaxExam.class)
public class ProxySessionIT {
    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void aSessionThroughTheWiredBundlesSurvivesAReconnect() throws Exception {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        Path dir = Files.createTempDirectory("proxy-session");
        int proxyPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "memory", "64M").start()) {
            Upstream upstream = ApplianceConfig.start(context, cm, up.port, proxyPort);
            assertEquals(64L << 20, upstream.status().exportSize());
            Downstream downstream = ApplianceConfig.service(context, Downstream.class);
            assertEquals("127.0.0.1:" + proxyPort, downstream.listenAddress());
            try (ScriptedClient c = new ScriptedClient(proxyPort)) {
                assertEquals(64L << 20, c.export.export().size());
                assertEquals(0, c.call(ScriptedClient.write(1, 4096, (byte) 0x42, 8192)).error());
                upstream.reconnect();
                Reply r = c.call(ScriptedClient.read(2, 4096, 8192));
                assertEquals(0, r.error());
                for (int i = 0; i < 8192; i++) {
                    assertEquals(0x42, r.data().get(i));
                }
                assertEquals(0, c.call(org.flexnbd.protocol.Request.of(Nbd.CMD_FLUSH, 0, 3, 0, 0)).error());
                Await.until("the client is listed", () -> downstream.clientAddresses().size() == 1);
            }
            Await.until("a reconnect is counted", () -> upstream.status().reconnects() >= 1);
            assertTrue(downstream.requestsRelayed() >= 3);
        }
    }
}
