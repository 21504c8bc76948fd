package org.flexnbd.itests.proxy;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Path;

import javax.inject.Inject;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.VerifiedIo;
import org.flexnbd.itests.osgi.Provisioning;
import org.flexnbd.protocol.service.Upstream;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The migration case where the new server does not take over the old address: Upstream.retarget() moves a proxy
 * whose client is doing verified I/O to a second nbdkit serving the same file, and the first can then go. A server
 * with another export is refused, with the reason, and the proxy stays.
 */
@RunWith(PaxExam.class)
public class RetargetIT {
    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void retargetUnderVerifiedIo() throws Exception {
        Path disk = FileUpstreams.disk("retarget");
        int proxyPort = Peer.freePort();
        try (Nbdkit first = FileUpstreams.server(disk).start();
                Nbdkit second = FileUpstreams.server(disk).start();
                Nbdkit other = new Nbdkit(disk.getParent(), Peer.freePort(), "memory", "16M").start()) {
            Upstream upstream = ApplianceConfig.start(context, cm, first.port, proxyPort);

            try (VerifiedIo io = VerifiedIo.start(proxyPort, 256)) {
                io.awaitVerified(10);
                try {
                    upstream.retarget("127.0.0.1", other.port);
                    fail("a server with another export is refused");
                } catch (IOException expected) {
                    assertTrue(expected.getMessage(), expected.getMessage().contains("size changed"));
                }
                assertEquals("127.0.0.1:" + first.port, upstream.status().address());

                upstream.retarget("127.0.0.1", second.port);
                assertEquals("127.0.0.1:" + second.port, upstream.status().address());
                io.awaitMore(10);
                first.close(); // the old server goes away: the client must not notice
                io.awaitMore(20);
            }
        } finally {
            FileUpstreams.delete(disk);
        }
    }
}
