package org.flexnbd.protocol.service;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Request;
import org.junit.After;
import org.junit.Test;

import io.netty.buffer.ByteBuf;

/** The journal alone, with payloads in real pooled memory so that every reference it keeps is counted. */
public class WriteJournalTest {
    private static final int HEADER = Nbd.REQUEST_HEADER_LENGTH;
    private final Object clientA = "link-1";
    private final Object clientB = "link-2";
    private final AtomicInteger changes = new AtomicInteger();
    private final WriteJournal journal = new WriteJournal(64 * 1024, changes::incrementAndGet);
    private final List<ByteBuf> memory = new ArrayList<>();

    @After
    public void everyReferenceWentBack() {
        journal.close();
        for (ByteBuf b : memory) {
            assertEquals("a payload still held: " + b, 0, b.refCnt());
        }
    }

    @Test
    public void writesFromEveryClientAreReplayedInTheOneOrderTheyWereAcknowledged() {
        Request a1 = ack(clientA, write(1, 0, 4096));
        Request b1 = ack(clientB, write(1, 0, 4096)); // same cookie, another client: both kept
        Request zeroes = ack(clientA, Request.of(Nbd.CMD_WRITE_ZEROES, 0, 2, 8192, 4096));
        Request a2 = ack(clientA, write(3, 0, 512));
        assertEquals(4, journal.requests());
        assertEquals(3 * HEADER + 4096 * 2 + 512 + HEADER, journal.bytes());

        assertFalse("nothing lost yet", journal.holding());
        assertTrue(journal.lost(journal.epoch()));
        assertTrue(journal.holding());
        List<Request> replay = journal.beginReplay("link-3");
        assertEquals(List.of(a1, b1, zeroes, a2), replay);
        assertNull("one replayer at a time", journal.beginReplay("link-4"));
        replay.forEach(Request::release);
        journal.replayEnded("link-3", true);
        assertFalse(journal.holding());
        assertEquals(1, journal.replays());
        assertEquals("still unflushed: kept", 4, journal.requests());
    }

    @Test
    public void aLossCountsOncePerEpoch() {
        long e = journal.epoch();
        ack(clientA, write(1, 0, 4096));
        assertTrue(journal.lost(e));
        assertFalse("the other connections of that epoch, dropped for it, do not start another", journal.lost(e));
        List<Request> replay = journal.beginReplay(clientA);
        replay.forEach(Request::release);
        journal.replayEnded(clientA, false);
        assertTrue("a failed replay is due again", journal.holding());
        replay = journal.beginReplay(clientB);
        assertEquals(1, replay.size());
        replay.forEach(Request::release);
        journal.replayEnded(clientB, true);
        assertFalse(journal.holding());
        assertTrue(changes.get() >= 2);
        assertTrue("even an empty journal's loss starts a new epoch", journal.lost(journal.epoch()));
        journal.replayEnded(clientA, false);
    }

    @Test
    public void anAcknowledgementReadAfterALossIsRefusedSoThatTheWriteComesAfterTheReplay() {
        long before = journal.epoch();
        ack(clientA, write(1, 0, 4096));
        assertTrue(journal.lost(before));
        Request late = write(2, 0, 4096);
        assertFalse("from the ended epoch", journal.acknowledged(clientB, before, late));
        assertFalse("nor from the new one while the replay is due", journal.acknowledged(clientB, journal.epoch(),
                late));
        List<Request> replay = journal.beginReplay(clientA);
        assertFalse("nor during it", journal.acknowledged(clientB, journal.epoch(), late));
        replay.forEach(Request::release);
        journal.replayEnded(clientA, true);
        assertTrue("after it, in order", journal.acknowledged(clientB, journal.epoch(), late));
        late.release();
        assertEquals(2, journal.requests());
    }

    @Test
    public void aFlushTakesOutWhatWasAcknowledgedBeforeItWasSentAndNothingAfter() {
        ack(clientA, write(1, 0, 4096));
        ack(clientA, write(2, 4096, 4096));
        long mark = journal.mark(); // the FLUSH is written now
        Request after = ack(clientA, write(3, 0, 4096));
        journal.flushed(clientA, mark, true);
        assertEquals(1, journal.requests());
        assertTrue(journal.lost(journal.epoch()));
        List<Request> replay = journal.beginReplay(clientA);
        assertEquals(List.of(after), replay);
        replay.forEach(Request::release);
        journal.replayEnded(clientA, true);
    }

    @Test
    public void aStoppingConnectorsWritesAreWrittenFirstByTheNextOneAndKeptUntilAFlush() {
        Request a1 = ack(clientA, write(1, 0, 4096));
        Request b1 = ack(clientB, write(1, 4096, 4096));
        List<Request> handed = journal.handOver();
        assertEquals(List.of(a1, b1), handed);
        assertEquals("the stopping journal keeps nothing", 0, journal.requests());
        assertEquals(0, journal.bytes());

        WriteJournal next = new WriteJournal(64 * 1024, changes::incrementAndGet);
        long before = next.epoch();
        Request early = write(2, 0, 512); // acknowledged on a connection of the new connector already
        assertTrue(next.acknowledged(clientA, before, early));
        early.release();
        assertEquals("the epoch that ended", before, next.adopt(handed));
        assertTrue("nothing goes out before they are written again", next.holding());
        Request late = write(3, 0, 512);
        assertFalse("an acknowledgement read on a connection of the ended epoch comes too late",
                next.acknowledged(clientA, before, late));
        late.release();
        List<Request> replay = next.beginReplay("link-9");
        assertEquals("the handed-over writes are older than what the new journal had: they go first, in their order",
                List.of(a1, b1, early), replay);
        replay.forEach(Request::release);
        next.replayEnded("link-9", true);
        assertFalse(next.holding());
        assertEquals("kept until a FLUSH", 3, next.requests());
        next.flushed("link-9", next.mark(), true);
        assertEquals(0, next.requests());
        Request kept = write(4, 0, 512);
        assertTrue(next.acknowledged(clientA, next.epoch(), kept));
        kept.release();
        long markBefore = next.mark();
        next.adopt(List.of(write(5, 0, 512)));
        next.flushed(clientA, markBefore, true);
        assertEquals("a FLUSH written before the adoption covers none of what it renumbered", 2, next.requests());
        List<Request> again = next.beginReplay("link-9");
        assertEquals(kept, again.get(1));
        again.forEach(Request::release);
        next.replayEnded("link-9", true);
        assertEquals("nothing to adopt", -1, next.adopt(List.of()));
        next.close();
    }

    @Test
    public void withTheJournalOffAdoptedWritesAreWrittenAgainThenLetGo() {
        List<Request> handed = List.of(ack(clientA, write(1, 0, 4096)));
        List<Request> mine = journal.handOver();
        assertEquals(handed, mine);
        WriteJournal off = new WriteJournal(0, changes::incrementAndGet);
        off.adopt(mine);
        assertTrue(off.holding());
        List<Request> replay = off.beginReplay("link-9");
        assertEquals(handed, replay);
        replay.forEach(Request::release);
        off.replayEnded("link-9", true);
        assertEquals(0, off.requests());
    }

    @Test
    public void withoutMultiConnAFlushCoversOnlyItsOwnConnectionsWritesFromTheOldestOn() {
        ack(clientA, write(1, 0, 4096));
        ack(clientB, write(1, 4096, 4096));
        ack(clientA, write(2, 8192, 4096));
        long mark = journal.mark();
        journal.flushed(clientA, mark, false);
        assertEquals("A's takes its own, up to B's", 2, journal.requests());
        assertFalse("A's second write is durable, kept behind B's", journal.awaitsFlushOf(clientA));
        assertTrue(journal.awaitsFlushOf(clientB));
        journal.flushed(clientB, mark, false);
        assertEquals(0, journal.requests());
    }

    @Test
    public void withoutMultiConnAFlushBehindAnotherConnectionsWriteIsRememberedNotLost() {
        ack(clientA, write(1, 0, 4096));
        ack(clientB, write(1, 0, 4096)); // the same blocks, later: a replay must write it after A's again
        ack(clientB, write(2, 4096, 4096));
        journal.flushed(clientB, journal.mark(), false);
        assertEquals("B's writes are durable, but A's older one leads: all stay, for the order", 3,
                journal.requests());
        assertFalse("nothing of B's waits: its own FLUSH would empty nothing", journal.awaitsFlushOf(clientB));
        assertTrue(journal.awaitsFlushOf(clientA));
        journal.flushed(clientA, journal.mark(), false);
        assertEquals("A's FLUSH empties it: B's were durable already", 0, journal.requests());
    }

    @Test
    public void writesWrittenAgainByAReplayAwaitAFlushOfTheReplayersConnection() {
        ack(clientA, write(1, 0, 4096));
        ack(clientB, write(1, 4096, 4096));
        journal.flushed(clientB, journal.mark(), false);
        assertTrue(journal.lost(journal.epoch()));
        assertFalse("a replay is due: it, not a FLUSH, comes next", journal.awaitsFlushOf(clientA));
        List<Request> replay = journal.beginReplay("link-9");
        replay.forEach(Request::release);
        journal.replayEnded("link-9", true);
        assertFalse(journal.awaitsFlushOf(clientA));
        assertTrue("B's durable write was written again: durable only after a FLUSH", journal.awaitsFlushOf("link-9"));
        journal.flushed("link-9", journal.mark(), false);
        assertEquals(0, journal.requests());
    }

    @Test
    public void aFuaWriteIsKeptOnlyWhileSomethingOlderIs() {
        ack(clientA, fua(write(1, 0, 4096)));
        assertEquals("durable, nothing older: not kept", 0, journal.requests());
        ack(clientA, write(2, 0, 4096));
        ack(clientA, fua(write(3, 0, 4096))); // replaying 2 after it would undo it: it must stay in order
        assertEquals(2, journal.requests());
        long mark = journal.mark() - 1; // a FLUSH sent after 2 only
        journal.flushed(clientA, mark, true);
        assertEquals("with 2 gone, the FUA write leads, and it is durable", 0, journal.requests());
    }

    @Test
    public void fullAtItsBoundUntilAFlushOfTheProxysOwnEmptiesIt() {
        for (int i = 0; i < 7; i++) {
            ack(clientA, write(i, i * 4096L, 4096));
        }
        assertFalse(journal.wantsFlush());
        int early = changes.get();
        ack(clientA, write(7, 7 * 4096L, 4096));
        assertTrue("half full: the proxy's own FLUSH goes out early", journal.wantsFlush());
        assertEquals(early + 1, changes.get());
        for (int i = 8; i < 15; i++) {
            ack(clientA, write(i, i * 4096L, 4096));
        }
        assertFalse(journal.isFull());
        ack(clientA, write(15, 15 * 4096L, 4096));
        assertTrue("16 writes of 4 KiB and their headers pass 64 KiB", journal.isFull());
        long mark = journal.mark(); // the proxy's own FLUSH
        int before = changes.get();
        journal.flushed(clientA, mark, true);
        assertFalse(journal.isFull());
        assertEquals(0, journal.bytes());
        assertEquals("held connections are told", before + 1, changes.get());
    }

    @Test
    public void aFlushThatEndsNoFullJournalWakesNoConnection() {
        for (int i = 0; i < 8; i++) {
            ack(clientA, write(i, i * 4096L, 4096));
        }
        assertTrue("half full", journal.wantsFlush());
        int before = changes.get();
        journal.flushed(clientA, journal.mark(), true);
        assertEquals(0, journal.requests());
        assertEquals("nothing was held back: nobody to tell", before, changes.get());
    }

    @Test
    public void aFlushThatLeavesTheJournalFullOrHalfFullWakesTheConnectionsToFlushAgain() {
        for (int i = 0; i < 8; i++) {
            ack(clientA, write(i, i * 4096L, 4096));
        }
        long mark = journal.mark(); // the proxy's own FLUSH goes out at half full
        for (int i = 8; i < 24; i++) { // writes in flight meanwhile are acknowledged: full, and beyond
            ack(clientA, write(i, i * 4096L, 4096));
        }
        assertTrue(journal.isFull());
        int before = changes.get();
        journal.flushed(clientA, mark, true);
        assertTrue("what came after the FLUSH still fills it", journal.isFull());
        assertEquals("the connection whose FLUSH ended must be told to send the next", before + 1, changes.get());
    }

    @Test
    public void anUpstreamRefusingTheProxysFlushSwitchesItOffRatherThanHoldingEveryClient() {
        for (int i = 0; i < 16; i++) {
            ack(clientA, write(i, i * 4096L, 4096));
        }
        assertTrue(journal.isFull());
        int before = changes.get();
        journal.giveUp();
        assertFalse(journal.isFull());
        assertFalse(journal.isOn());
        assertEquals(0, journal.requests());
        assertEquals("held clients are told", before + 1, changes.get());
        Request w = write(99, 0, 4096);
        assertTrue(journal.acknowledged(clientA, journal.epoch(), w));
        w.release();
        assertEquals("nothing kept after", 0, journal.requests());
        assertFalse(journal.lost(journal.epoch()));
    }

    @Test
    public void stoppingFlushesWhateverItHolds() throws Exception {
        ack(clientA, write(1, 0, 4096));
        assertFalse("far from half full", journal.wantsFlush());
        Thread connector = new Thread(() -> {
            try {
                journal.drain(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        connector.start();
        long deadline = System.currentTimeMillis() + 2000;
        while (!journal.wantsFlush() && System.currentTimeMillis() < deadline) {
            Thread.sleep(5);
        }
        assertTrue("a stopping connector wants its FLUSH", journal.wantsFlush());
        journal.flushed(clientA, journal.mark(), true);
        connector.join(2000);
        assertFalse("the FLUSH's success lets it stop", connector.isAlive());
        WriteJournal empty = new WriteJournal(1 << 20, () -> { });
        assertTrue(empty.drain(0));
    }

    @Test
    public void offItKeepsNothing() {
        WriteJournal off = new WriteJournal(0, () -> { });
        Request w = write(1, 0, 4096);
        assertTrue(off.acknowledged(clientA, off.epoch(), w));
        assertEquals(0, off.requests());
        assertFalse(off.isFull());
        assertFalse(off.lost(off.epoch()));
        w.release();
    }

    @Test
    public void theJournalReplaysThenTheLedgerSendsWhatWasUnanswered() throws Exception {
        // The order after a loss: the journal's writes first (JournalReplay, before the connection starts), then
        // the ledger's unanswered requests from begin().
        RequestLedger ledger = new RequestLedger(bytes -> { });
        Request answered = write(1, 0, 4096);
        Request unanswered = write(2, 4096, 4096);
        ledger.admit(answered, answered, 4096);
        ledger.admit(unanswered, unanswered, 4096);
        long g = ledger.begin(null, () -> { });
        ledger.nextToSend(g).release();
        ledger.nextToSend(g).release();
        assertTrue(journal.acknowledged(clientA, journal.epoch(), answered)); // before the client sees the reply
        assertTrue(ledger.answered(g, org.flexnbd.protocol.Reply.simple(1, 0, null)));
        RequestLedger.Delivery d = ledger.takeAnswered();
        ledger.written(d);
        assertEquals("the client's hold went, the journal's stays", 1, answered.owner().refCnt());

        assertTrue(journal.lost(journal.epoch()));
        List<Request> replay = journal.beginReplay(clientA);
        assertEquals(List.of(answered), replay);
        replay.forEach(Request::release);
        journal.replayEnded(clientA, true);
        ledger.forget(g); // the lost connection ended
        long g2 = ledger.begin(null, () -> { });
        Request next = ledger.nextToSend(g2);
        assertEquals(2, next.cookie());
        next.release();
        ledger.clientLeft();
    }

    private Request ack(Object origin, Request w) {
        assertTrue(journal.acknowledged(origin, journal.epoch(), w));
        w.release(); // the ledger's hold goes when its reply is written; the journal keeps its own
        return w;
    }

    private Request write(long cookie, long offset, int bytes) {
        ByteBuf b = PayloadPool.shared().directBuffer(bytes);
        b.writerIndex(bytes);
        memory.add(b);
        return new Request(0, Nbd.CMD_WRITE, cookie, offset, bytes, b.nioBuffer(), b);
    }

    private static Request fua(Request w) {
        return new Request(Nbd.CMD_FLAG_FUA, w.type(), w.cookie(), w.offset(), w.length(), w.payload(), w.owner());
    }
}
