package org.flexnbd.itests.e2e;

import static org.junit.Assert.assertEquals;

import java.io.IOException;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** --cache: sequential small READs reach the upstream half as often, and a write is never hidden by the cache. */
public class ReadAheadIT {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private ScriptedUpstream upstream;
    private Proxy proxy;
    private ScriptedClient client;

    @Before
    public void start() throws Exception {
        E2E.assumeDistribution();
        upstream = new ScriptedUpstream(ScriptedUpstream.Fault.NONE, 0);
        proxy = Proxy.start(tmp.getRoot().toPath(), Peer.freePort(), "-C", "127.0.0.1", "-P",
                Integer.toString(upstream.port()), "--cache");
        client = new ScriptedClient(proxy.port);
    }

    @After
    public void stop() throws IOException {
        if (client != null) {
            client.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private long readsUpstream() {
        return upstream.received().stream().filter(r -> r.type() == Nbd.CMD_READ).count();
    }

    @Test
    public void sequentialSmallReadsAreHalvedUpstream() throws Exception {
        for (int i = 0; i < 16; i++) {
            assertEquals(0, client.call(ScriptedClient.write(100 + i, i * 4096L, (byte) i, 4096)).error());
        }
        for (int i = 0; i < 16; i++) {
            Reply r = client.call(ScriptedClient.read(200 + i, i * 4096L, 4096));
            assertEquals(0, r.error());
            assertEquals(4096, r.data().remaining());
            for (int b = 0; b < 4096; b++) {
                assertEquals((byte) i, r.data().get(b));
            }
        }
        assertEquals(8, readsUpstream());
        assertEquals(8192, upstream.received().stream().filter(r -> r.type() == Nbd.CMD_READ).findFirst()
                .orElseThrow().length());
    }

    @Test
    public void aWriteEmptiesTheCache() throws Exception {
        assertEquals(0, client.call(ScriptedClient.write(1, 0, (byte) 1, 8192)).error());
        assertEquals(0, client.call(ScriptedClient.read(2, 0, 4096)).error()); // keeps 4096..8191
        assertEquals(0, client.call(ScriptedClient.write(3, 4096, (byte) 9, 4096)).error());
        Reply r = client.call(ScriptedClient.read(4, 4096, 4096));
        assertEquals(9, r.data().get(0));
        assertEquals(2, readsUpstream());
    }
}
