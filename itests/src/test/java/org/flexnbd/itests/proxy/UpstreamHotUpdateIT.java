package org.flexnbd.itests.proxy;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import javax.inject.Inject;

import org.flexnbd.itests.e2e.Nbdkit;
import org.flexnbd.itests.e2e.Peer;
import org.flexnbd.itests.e2e.VerifiedIo;
import org.flexnbd.itests.osgi.Provisioning;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The upstream bundle is updated twenty times while a client writes and reads back, verifying every block: the
 * client sees no error and no wrong data, because the downstream keeps its unanswered requests and resubmits them
 * to each new Upstream service. (Its own class: an update must not disturb other tests' framework.)
 */
@RunWith(PaxExam.class)
public class UpstreamHotUpdateIT {
    private static final int UPDATES = 20;
    private static final int BLOCKS = 256;

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin cm;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void twentyUpdatesOfTheUpstreamBundleDuringVerifiedIo() throws Exception {
        Assume.assumeTrue("nbdkit is not installed", Files.isExecutable(Path.of("/usr/bin/nbdkit")));
        Path dir = Files.createTempDirectory("hot-update");
        int proxyPort = Peer.freePort();
        try (Nbdkit up = new Nbdkit(dir, Peer.freePort(), "-t", "1", "memory", "64M").start()) {
            ApplianceConfig.start(context, cm, up.port, proxyPort);

            Bundle upstreamBundle = Provisioning.find(context, "flexnbd-upstream");
            Path jar = Provisioning.jar("flexnbd-upstream");
            try (VerifiedIo io = VerifiedIo.start(proxyPort, BLOCKS)) {
                io.awaitVerified(3);
                for (int i = 0; i < UPDATES; i++) {
                    try (InputStream in = Files.newInputStream(jar)) {
                        upstreamBundle.update(in);
                    }
                    io.awaitMore(3); // I/O goes on through the new service before the next update
                }
                assertTrue(io.verified() > UPDATES * 3);
            }
            assertEquals(Bundle.ACTIVE, upstreamBundle.getState());
        }
    }
}
