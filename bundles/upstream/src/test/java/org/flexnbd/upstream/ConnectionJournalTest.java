package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.RequestLedger.Answer;
import org.flexnbd.protocol.service.WriteJournal;
import org.flexnbd.upstream.Connection.Binding;
import org.junit.After;
import org.junit.Test;

import io.netty.buffer.ByteBuf;

/**
 * One connection's part in the write journal, with a real journal and a real ledger, no sockets: what an
 * acknowledgement and a FLUSH's success do before the client sees them. Payloads are in pooled memory, so every
 * reference kept is counted.
 */
public class ConnectionJournalTest {
    private static final int FLUSHES = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH;
    private final AtomicInteger wakes = new AtomicInteger();
    private final WriteJournal journal = new WriteJournal(64 * 1024, wakes::incrementAndGet);
    private final RequestLedger ledger = new RequestLedger(bytes -> { });
    private final long g = ledger.begin(null, () -> { });
    private final Binding binding = new Binding(ledger, g);
    private final List<ByteBuf> memory = new ArrayList<>();

    @After
    public void everyReferenceWentBack() {
        journal.close();
        ledger.clientLeft();
        for (ByteBuf b : memory) {
            assertEquals("a payload still held: " + b, 0, b.refCnt());
        }
    }

    @Test
    public void anAcknowledgedWriteIsJournalledAndAFlushWrittenAfterItTakesItOutOnSuccess() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        roundTrip(c, write(1, 0, 4096));
        assertEquals(1, journal.requests());

        roundTrip(c, Request.of(Nbd.CMD_FLUSH, 0, 2, 0, 0));
        assertEquals("the FLUSH covered the write", 0, journal.requests());
    }

    @Test
    public void aFlushWrittenBeforeAWriteWasAcknowledgedDoesNotCoverIt() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        Request w = sent(c, write(1, 0, 4096));
        Request flush = sent(c, Request.of(Nbd.CMD_FLUSH, 0, 2, 0, 0)); // out before the write's reply came
        assertEquals(Answer.ANSWERED, c.answered(binding, w, ok(1)));
        deliver(1);
        assertEquals(Answer.ANSWERED, c.answered(binding, flush, ok(2)));
        deliver(2);
        assertEquals("the upstream may have flushed before it took the write", 1, journal.requests());
    }

    @Test
    public void aFailedWriteOrFlushChangesNothing() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        roundTrip(c, write(1, 0, 4096));
        Request failed = sent(c, write(2, 4096, 4096));
        assertEquals(Answer.ANSWERED, c.answered(binding, failed, Reply.simple(2, Nbd.EIO, ByteBuffer.allocate(0))));
        deliver(2);
        Request flush = sent(c, Request.of(Nbd.CMD_FLUSH, 0, 3, 0, 0));
        assertEquals(Answer.ANSWERED, c.answered(binding, flush, Reply.simple(3, Nbd.EIO, ByteBuffer.allocate(0))));
        deliver(3);
        assertEquals("only the acknowledged write, still there", 1, journal.requests());
    }

    @Test
    public void anUpstreamWithoutFlushIsDurableOnAcknowledgement() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", Nbd.FLAG_HAS_FLAGS, "test");
        roundTrip(c, write(1, 0, 4096));
        assertEquals(0, journal.requests());
    }

    @Test
    public void anAcknowledgementReadAfterALossIsRefusedSoTheWriteIsSentAgainAfterTheReplay() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        Request w = sent(c, write(1, 0, 4096));
        assertTrue(journal.lost(c.epoch())); // another connection of this epoch was lost
        Reply late = ok(1);
        assertEquals("the client is not told", Answer.WITHHELD, c.answered(binding, w, late));
        assertEquals("and the write is still out, to be sent again", 1, ledger.awaitedOn(g));
        assertEquals(0, journal.requests());
        ConnectionJournal next = new ConnectionJournal(journal, "conn-2", FLUSHES, "test");
        assertEquals("the next connection starts in the new epoch", c.epoch() + 1, next.epoch());
    }

    @Test
    public void withoutMultiConnAFlushCoversOnlyItsOwnConnectionsWrites() throws Exception {
        ConnectionJournal mine = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        Request other = write(9, 8192, 512);
        assertTrue(journal.acknowledged("conn-2", journal.epoch(), other)); // the journal takes its own reference
        other.release();
        roundTrip(mine, write(1, 0, 4096));
        roundTrip(mine, Request.of(Nbd.CMD_FLUSH, 0, 2, 0, 0));
        assertEquals("conn-2's write, the oldest, stops the trim", 2, journal.requests());

        ConnectionJournal multi = new ConnectionJournal(journal, "conn-3", FLUSHES | Nbd.FLAG_CAN_MULTI_CONN, "test");
        roundTrip(multi, Request.of(Nbd.CMD_FLUSH, 0, 3, 0, 0));
        assertEquals("with CAN_MULTI_CONN one FLUSH covers every connection's", 0, journal.requests());
    }

    @Test
    public void theProxysOwnFlushAtHalfFullEmptiesTheJournalAndIsToldApartFromAClientsRequest() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        acknowledgeWrites(c, 1, 8);
        assertTrue("half full", c.ownFlushDue(false, this::awaitedHere));
        assertFalse("not after ESHUTDOWN", c.ownFlushDue(true, this::awaitedHere));
        assertNull("no reply is awaited for it yet", c.awaitedOwnFlush(ConnectionJournal.OWN_FLUSH));
        Request own = c.beginOwnFlush();
        assertEquals(Nbd.CMD_FLUSH, own.type());
        assertFalse("one at a time", c.ownFlushDue(false, this::awaitedHere));
        assertSame(own, c.awaitedOwnFlush(ConnectionJournal.OWN_FLUSH));
        assertTrue(c.isOwnFlush(own));
        assertTrue("a client's request with its cookie would be ambiguous",
                c.clashesWithOwnFlush(Request.of(Nbd.CMD_READ, 0, ConnectionJournal.OWN_FLUSH, 0, 512)));
        c.ownFlushAnswered(ok(ConnectionJournal.OWN_FLUSH));
        assertEquals(0, journal.requests());
        assertNull(c.awaitedOwnFlush(ConnectionJournal.OWN_FLUSH));
        assertTrue(journal.isOn());
    }

    @Test
    public void writesAcknowledgedWhileTheProxysFlushWasOutMakeTheNextOneDueAndTheLinksAreWoken() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        acknowledgeWrites(c, 1, 8);
        c.beginOwnFlush();
        acknowledgeWrites(c, 9, 24); // in flight meanwhile: the journal fills up
        assertTrue(journal.isFull());
        int before = wakes.get();
        c.ownFlushAnswered(ok(ConnectionJournal.OWN_FLUSH));
        assertTrue("still half full: the next FLUSH is due at once", c.ownFlushDue(false, this::awaitedHere));
        assertTrue("and the link's writer, waiting for its FLUSH to end, is woken to send it", wakes.get() > before);
    }

    @Test
    public void anUpstreamRefusingTheProxysOwnFlushSwitchesTheJournalOff() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        acknowledgeWrites(c, 1, 8);
        assertNotNull(c.beginOwnFlush());
        assertTrue(c.ownFlushAnswered(Reply.simple(ConnectionJournal.OWN_FLUSH, Nbd.EINVAL, ByteBuffer.allocate(0))));
        assertFalse(journal.isOn());
        assertEquals(0, journal.requests());
        assertFalse(c.ownFlushDue(false, this::awaitedHere));
    }

    /**
     * nbdkit on SIGTERM answers everything with ESHUTDOWN, the proxy's FLUSH included. That once switched the journal
     * off for good, as if the server could not flush: a restarted upstream then lost acknowledged writes silently.
     */
    @Test
    public void eshutdownToTheProxysOwnFlushKeepsTheJournalAndGivesTheConnectionUp() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        acknowledgeWrites(c, 1, 8);
        assertNotNull(c.beginOwnFlush());
        assertFalse("the connection is given up",
                c.ownFlushAnswered(Reply.simple(ConnectionJournal.OWN_FLUSH, Nbd.ESHUTDOWN, ByteBuffer.allocate(0))));
        assertTrue("the journal stays on", journal.isOn());
        assertEquals("and keeps every write, to be written again after the reconnect", 8, journal.requests());
        assertNull("no FLUSH of the proxy's is awaited any more", c.awaitedOwnFlush(ConnectionJournal.OWN_FLUSH));
        assertTrue("the loss starts a replay", journal.lost(c.epoch()));
        List<Request> replay = journal.beginReplay("conn-2");
        assertEquals(8, replay.size());
        replay.forEach(Request::release);
        journal.replayEnded("conn-2", true);
    }

    @Test
    public void aClientsOwnRequestWithTheCookieHoldsTheProxysFlushBack() throws Exception {
        ConnectionJournal c = new ConnectionJournal(journal, "conn-1", FLUSHES, "test");
        acknowledgeWrites(c, 1, 8);
        Request clash = sent(c, Request.of(Nbd.CMD_READ, 0, ConnectionJournal.OWN_FLUSH, 0, 512));
        assertFalse("its reply could not be told from the FLUSH's", c.ownFlushDue(false, this::awaitedHere));
        assertTrue(ledger.answered(g, ok(clash.cookie())));
        deliver(clash.cookie());
        assertTrue(c.ownFlushDue(false, this::awaitedHere));
    }

    private boolean awaitedHere(long cookie) {
        return binding.ledger().lookup(binding.token(), cookie) != null;
    }

    /** Writes of 4 KiB with cookies {@code first} to {@code last}, each sent, acknowledged and taken by the client. */
    private void acknowledgeWrites(ConnectionJournal c, long first, long last) throws Exception {
        for (long cookie = first; cookie <= last; cookie++) {
            roundTrip(c, write(cookie, cookie * 4096, 4096));
        }
    }

    /** {@code r} sent on {@code c}, answered with success, and the reply taken by the client. */
    private void roundTrip(ConnectionJournal c, Request r) throws Exception {
        Request onWire = sent(c, r);
        assertEquals(Answer.ANSWERED, c.answered(binding, onWire, ok(onWire.cookie())));
        deliver(onWire.cookie());
    }

    /** Admits {@code r}, takes it from the ledger as the writer does and tells {@code c} it is written. */
    private Request sent(ConnectionJournal c, Request r) throws Exception {
        ledger.admit(r, r, r.payloadLength());
        Request onWire = ledger.nextToSend(g);
        assertSame(r, onWire);
        c.writing(onWire);
        onWire.release(); // the writer's reference, given back once written
        return onWire;
    }

    /** The client takes the reply {@link ConnectionJournal#answered} gave the ledger. */
    private void deliver(long cookie) {
        RequestLedger.Delivery d = ledger.takeAnswered();
        assertEquals(cookie, d.reply().cookie());
        d.reply().release();
        ledger.written(d);
    }

    private static Reply ok(long cookie) {
        return Reply.simple(cookie, 0, ByteBuffer.allocate(0));
    }

    private Request write(long cookie, long offset, int bytes) {
        ByteBuf b = PayloadPool.shared().directBuffer(bytes);
        b.writerIndex(bytes);
        memory.add(b);
        return new Request(0, Nbd.CMD_WRITE, cookie, offset, bytes, b.nioBuffer(), b);
    }
}
