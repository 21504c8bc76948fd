package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;

import java.util.concurrent.TimeUnit;

import org.junit.Test;

public class ClientLimitsTest {

    @Test
    public void everyValueTheConfigurationCheckAcceptsIsKept() {
        // The check (cli ConfigRanges) lets clientTimeoutSeconds go to a day: 7200 was once replaced by 60 here.
        ClientLimits l = new ClientLimits(3600, 1, 86_400);
        assertEquals(TimeUnit.SECONDS.toNanos(3600), l.handshakeNanos());
        assertEquals(TimeUnit.SECONDS.toNanos(1), l.payloadNanos());
        assertEquals(TimeUnit.SECONDS.toNanos(86_400), l.clientNanos());
        assertEquals("no limit on the client", 0, new ClientLimits(10, 30, 0).clientNanos());
    }

    @Test
    public void aValueOutOfRangeGetsItsDefaultNotNoLimit() {
        ClientLimits l = new ClientLimits(0, 3601, 86_401);
        assertEquals(TimeUnit.SECONDS.toNanos(ClientLimits.HANDSHAKE_DEFAULT), l.handshakeNanos());
        assertEquals(TimeUnit.SECONDS.toNanos(ClientLimits.PAYLOAD_DEFAULT), l.payloadNanos());
        assertEquals(TimeUnit.SECONDS.toNanos(ClientLimits.CLIENT_DEFAULT), l.clientNanos());
    }
}
