package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.time.Duration;

import org.flexnbd.protocol.service.UpstreamTarget;
import org.junit.Test;

/** Where a connector's connections go, across retarget() and the hand-over to the next connector; no sockets. */
public class ConnectorTargetTest {
    private static final Endpoint A = new Endpoint("127.0.0.1", 1001, "");
    private static final Endpoint B = new Endpoint("127.0.0.1", 1002, "");
    private static final Endpoint C = new Endpoint("127.0.0.1", 1003, "");

    private static ConnectorTarget at(Endpoint configured) {
        return new ConnectorTarget(new Connector(configured, "", UpstreamTls.OFF, Duration.ofSeconds(1), null));
    }

    private static void move(ConnectorTarget t, Endpoint to) throws IOException {
        t.checkMovable(to);
        t.move(t.current().at(to));
    }

    @Test
    public void aConnectorNeverMovedHandsNothingOver() {
        assertNull(at(A).handOver());
    }

    @Test
    public void aMoveIsHandedOverAndAdoptedByTheNextConnectorOfTheSameConfiguration() throws IOException {
        ConnectorTarget first = at(A);
        move(first, B);
        UpstreamTarget moved = first.handOver();
        assertEquals(new UpstreamTarget("127.0.0.1:1001", "127.0.0.1", 1002), moved);
        assertEquals("asked again, the same", moved, first.handOver());

        ConnectorTarget next = at(A);
        assertTrue(next.adopt(moved).startsWith("staying on upstream 127.0.0.1:1002"));
        assertEquals(B, next.current().endpoint());
        assertNull("adopted twice: nothing more to do or say", next.adopt(moved));
        assertEquals(moved, next.handOver());
    }

    @Test
    public void aMoveAfterTheHandOverFailsBeforeAndAfterItsCheck() throws IOException {
        ConnectorTarget t = at(A);
        Connector checked = t.current().at(B);
        t.handOver();
        try {
            t.checkMovable(B);
            fail("moved after the hand-over");
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("retarget again"));
        }
        try {
            t.move(checked);
            fail("moved after the hand-over");
        } catch (IOException expected) {
            assertEquals(A, t.current().endpoint());
        }
    }

    @Test
    public void aConfigurationNamingAnotherServerEndsTheMove() throws IOException {
        ConnectorTarget first = at(A);
        move(first, B);
        ConnectorTarget next = at(C);
        String said = next.adopt(first.handOver());
        assertTrue(said, said.contains("names upstream 127.0.0.1:1003 in place of 127.0.0.1:1001"));
        assertEquals(C, next.current().endpoint());
    }

    @Test
    public void aConfigurationNamingTheTargetItselfNeedsNoWord() throws IOException {
        ConnectorTarget first = at(A);
        move(first, B);
        ConnectorTarget next = at(B);
        assertNull(next.adopt(first.handOver()));
        assertEquals(B, next.current().endpoint());
    }

    @Test
    public void aMoveOfTheNextConnectorsOwnIsNotUndoneByTheOneBefore() throws IOException {
        ConnectorTarget first = at(A);
        move(first, B);
        UpstreamTarget moved = first.handOver();
        ConnectorTarget next = at(A);
        move(next, A); // the operator moves the new connector back where it is configured
        String said = next.adopt(moved);
        assertTrue(said, said.contains("where a retarget moved this connector"));
        assertEquals(A, next.current().endpoint());
    }

    @Test
    public void aUnixSocketIsTheSameServerWhateverItsPort() throws IOException {
        ConnectorTarget first = at(new Endpoint("/run/up.sock", 10809, ""));
        move(first, new Endpoint("/run/up.sock", 0, ""));
        assertNull(first.handOver());
    }

    @Test
    public void stoppingWithAMoveNobodyTookLeavesItForTheNext() throws IOException {
        ConnectorTarget t = at(A);
        move(t, B);
        assertEquals(new UpstreamTarget("127.0.0.1:1001", "127.0.0.1", 1002), t.stop());
        assertNull("left once", t.stop());
        try {
            t.checkMovable(C);
            fail("moved after it stopped");
        } catch (IOException expected) {
            assertEquals(B, t.current().endpoint());
        }

        ConnectorTarget handed = at(A);
        move(handed, B);
        handed.handOver();
        assertNull(handed.stop());
        assertNull(at(A).stop());
    }
}
