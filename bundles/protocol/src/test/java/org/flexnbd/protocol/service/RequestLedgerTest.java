package org.flexnbd.protocol.service;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.NbdException;
import org.flexnbd.protocol.PayloadPool;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.service.RequestLedger.Answer;
import org.flexnbd.protocol.service.RequestLedger.Delivery;
import org.junit.After;
import org.junit.Test;

import io.netty.buffer.ByteBuf;

/**
 * The ledger alone: no sockets, no threads but the test's. Payloads and replies are in real pooled memory, so that
 * every reference the ledger takes or gives back is counted.
 */
public class RequestLedgerTest {
    private final AtomicLong budgetBack = new AtomicLong();
    private final RequestLedger ledger = new RequestLedger(budgetBack::addAndGet);
    private final List<ByteBuf> memory = new ArrayList<>();
    /** How often the ledger told the current generation's writer that a fence lifted. */
    private final AtomicLong wakes = new AtomicLong();

    @After
    public void everyReferenceWentBack() {
        for (ByteBuf b : memory) {
            assertEquals("a pooled buffer still held: " + b, 0, b.refCnt());
        }
    }

    // ---- replay

    @Test
    public void aNewGenerationSendsAgainEverythingUnansweredInTheOrderTheClientSentIt() throws Exception {
        for (long cookie = 1; cookie <= 4; cookie++) {
            admitRead(cookie);
        }
        long g1 = begin();
        assertEquals(List.of(1L, 2L, 3L, 4L), cookiesSent(g1));
        assertTrue(ledger.answered(g1, reply(3)));
        admitRead(5);
        long g2 = reconnect(g1); // the connection was lost: 1, 2, 4 unanswered on it, 5 never sent
        assertEquals(4, ledger.queued());
        admitRead(6); // arrives after the reconnect: behind the retransmissions
        assertEquals(List.of(1L, 2L, 4L, 5L, 6L), cookiesSent(g2));
        assertNull("the old generation may send nothing more", ledger.nextToSend(g1));
        writeAll();
        answerAll(g2, 1, 2, 4, 5, 6);
        writeAll();
        assertEquals(0, ledger.inFlight());
    }

    @Test
    public void aReplyReadOnAGenerationThatWasReplacedIsDroppedAndTheRequestAnsweredOnceOnTheNewOne() throws Exception {
        long g1 = writeSentOnANewGeneration(1);
        Request onWire = ledger.lookup(g1, 1);
        long g2 = begin(); // a move to another link: the old one's connection is still open

        ByteBuf late = pooled(0);
        assertSame("it can still be decoded", onWire, ledger.lookup(g1, 1));
        assertFalse("a stale reply is no answer", ledger.answered(g1, reply(1, late)));
        assertEquals("and its memory went back", 0, late.refCnt());
        assertNull("answered there once: nothing more awaited", ledger.lookup(g1, 1));
        ledger.nextToSend(g2).release();
        assertTrue(ledger.answered(g2, reply(1)));
        assertFalse("a second reply is no answer either", ledger.answered(g2, reply(1)));
        writeAll();
        assertEquals(512, budgetBack.get());
    }

    @Test
    public void aWitnessSeesTheSentRequestBeforeTheClientAndMayHoldTheAnswerBack() throws Exception {
        long g1 = writeSentOnANewGeneration(1);
        Request onWire = ledger.lookup(g1, 1);
        List<Request> seen = new ArrayList<>();

        ByteBuf late = pooled(0);
        assertEquals(Answer.WITHHELD, ledger.answered(g1, reply(1, late), (sent, r) -> seen.add(sent) && false));
        assertEquals("held back, its memory went back", 0, late.refCnt());
        assertNull("and the client has nothing to take", ledger.takeAnswered());
        assertSame("it is still awaited there", onWire, ledger.lookup(g1, 1));
        assertEquals(1, ledger.release(g1));

        long g2 = begin();
        assertEquals("a stale reply is shown to nobody", Answer.STALE,
                ledger.answered(g1, reply(1), (sent, r) -> seen.add(sent)));
        ledger.nextToSend(g2).release();
        assertEquals(Answer.ANSWERED, ledger.answered(g2, reply(1), (sent, r) -> seen.add(sent)));
        assertEquals("the request as sent, twice: held back once, then answered", List.of(onWire, onWire), seen);
        writeAll();
        assertEquals(512, budgetBack.get());
    }

    @Test
    public void aPartialStructuredReplyIsForgottenWithItsConnectionAndTheRequestSentAgain() throws Exception {
        admitRead(9);
        long g1 = begin();
        assertEquals(List.of(9L), cookiesSent(g1));
        // The connection died between chunks: its reader drops the chunks; the ledger never heard of them.
        long g2 = reconnect(g1);
        assertEquals(List.of(9L), cookiesSent(g2));
        assertTrue(ledger.answered(g2, reply(9)));
        writeAll();
        assertEquals(0, ledger.charged());
    }

    // ---- ESHUTDOWN

    @Test
    public void afterEshutdownNothingMoreIsSentAndTheConnectionEndsSoftlyOnceItsAnswersCame() throws Exception {
        admitRead(1);
        admitRead(2);
        long g = begin();
        assertEquals(List.of(1L, 2L), cookiesSent(g));
        ledger.refused(g, 1);
        assertTrue(ledger.isRefusing(g));
        admitRead(3);
        assertNull("nothing more on a refusing connection", ledger.nextToSend(g));
        assertNull("2 is still owed an answer", ledger.softDisconnect(g));
        assertTrue(ledger.answered(g, reply(2)));
        Request disc = ledger.softDisconnect(g);
        assertEquals(Nbd.CMD_DISC, disc.type());
        ledger.release(g);
        long next = begin();
        assertEquals("the refused request first, in its place", List.of(1L, 3L), cookiesSent(next));
        answerAll(next, 1, 3);
        writeAll();
    }

    @Test
    public void aClientDisconnectWhileTheUpstreamRefusesWaitsForTheNextConnection() throws Exception {
        // The past fix: a DISCONNECT arriving while the link was refusing met a null in its drain.
        admitRead(1);
        long g = begin();
        ledger.nextToSend(g).release();
        ledger.refused(g, 1);
        Request clients = Request.of(Nbd.CMD_DISC, 0, 77, 0, 0);
        ledger.disconnect(clients);
        assertNull(ledger.nextToSend(g));
        Request soft = ledger.softDisconnect(g);
        assertNotSame("the soft disconnect is the proxy's own", clients, soft);
        long g2 = begin();
        assertEquals("the client's DISCONNECT waits for its last reply", List.of(1L), cookiesSent(g2));
        assertTrue(ledger.answered(g2, reply(1)));
        assertNull("...to be written", ledger.nextToSend(g2));
        writeAll();
        assertSame(clients, ledger.nextToSend(g2));
        assertNull(ledger.nextToSend(g2));
    }

    // ---- the client

    @Test
    public void theClientsDisconnectGoesOnlyOnceEveryReplyIsWritten() throws Exception {
        admitRead(1);
        long g = begin();
        ledger.nextToSend(g).release();
        Request disc = Request.of(Nbd.CMD_DISC, 0, 0, 0, 0);
        ledger.disconnect(disc);
        assertNull("1 is still unanswered", ledger.nextToSend(g));
        ledger.answered(g, reply(1));
        Delivery d = ledger.takeAnswered();
        assertNull("its reply is not written yet", ledger.nextToSend(g));
        ledger.written(d);
        d.reply().release();
        assertEquals(0, ledger.inFlight());
        assertSame(disc, ledger.nextToSend(g));
        assertNull("once", ledger.nextToSend(g));
    }

    @Test
    public void aClientLeavingWithRequestsOutGivesEverythingBackAndTheConnectionMustBeReplaced() throws Exception {
        ByteBuf[] payloads = {pooled(4096), pooled(4096), pooled(4096), pooled(4096), pooled(4096)};
        for (int i = 0; i < payloads.length; i++) {
            admit(write(i + 1, payloads[i]), 4096);
        }
        long g = begin();
        Request underWay = null;
        for (int i = 0; i < 4; i++) { // 5 stays queued
            Request r = ledger.nextToSend(g);
            if (r.cookie() == 2) {
                underWay = r; // a write still under way when the client leaves
            } else {
                r.release();
            }
        }
        ByteBuf takenReply = pooled(64);
        ByteBuf untakenReply = pooled(64);
        assertTrue(ledger.answered(g, reply(1, takenReply)));
        Delivery taken = ledger.takeAnswered(); // the writer has 1's reply in hand
        assertTrue(ledger.answered(g, reply(3, untakenReply))); // 3's waits for the writer

        ledger.clientLeft();
        assertNull("nothing is left to take", ledger.takeAnswered());
        assertEquals(5 * 4096, budgetBack.get());
        assertEquals(0, ledger.charged());
        assertEquals(0, untakenReply.refCnt());
        assertEquals("the write under way keeps its own", 1, payloads[1].refCnt());
        underWay.release();
        taken.reply().release();
        ledger.written(taken); // too late: nothing more goes back
        assertEquals(5 * 4096, budgetBack.get());
        assertEquals("2 and 4 were written there and never answered", 2, ledger.release(g));
        ByteBuf late = pooled(0);
        assertFalse(ledger.answered(g, reply(4, late)));
        Request read = Request.of(Nbd.CMD_READ, 0, 6, 0, 512);
        assertFalse("nothing is admitted after", ledger.admit(read, read, 512));
        assertEquals(5 * 4096 + 512, budgetBack.get());
    }

    @Test
    public void aCookieStillInFlightIsRefusedAndWhatCameWithItGoesBack() throws Exception {
        admitRead(1);
        ByteBuf data = pooled(100);
        try {
            admit(write(1, data), 100);
            fail("a cookie in flight twice must be refused");
        } catch (NbdException e) {
            assertTrue(e.isFatal());
        }
        assertEquals(0, data.refCnt());
        assertEquals(100, budgetBack.get());
        ledger.clientLeft();
    }

    @Test
    public void aClientMayReuseACookieAsSoonAsItsReplyIsTaken() throws Exception {
        // The writer may put the bytes on the wire before it says they are written; qemu reuses cookies at once.
        admitRead(1);
        long g = begin();
        ledger.nextToSend(g).release();
        assertTrue(ledger.answered(g, reply(1)));
        Delivery first = ledger.takeAnswered();
        admitRead(1);
        assertEquals(2, ledger.inFlight());
        assertEquals(List.of(1L), cookiesSent(g));
        ledger.written(first);
        first.reply().release();
        assertEquals("only the first went back", 512, budgetBack.get());
        assertTrue(ledger.answered(g, reply(1)));
        writeAll();
        assertEquals(1024, budgetBack.get());
    }

    @Test
    public void theClientIsBackloggedWhileItsRepliesBeyondTheBoundAreUnwritten() throws Exception {
        ByteBuf big = pooled(3000);
        admitRead(1);
        long g = begin();
        ledger.nextToSend(g).release();
        assertFalse(ledger.isBacklogged(2048));
        assertTrue(ledger.answered(g, reply(1, big)));
        assertTrue("behind: the connection's reader stops", ledger.isBacklogged(2048));
        assertFalse("a bigger bound has room", ledger.isBacklogged(4096));
        Delivery d = ledger.takeAnswered();
        assertTrue("taken is not written", ledger.isBacklogged(2048));
        ledger.written(d);
        d.reply().release();
        assertFalse(ledger.isBacklogged(2048));
    }

    @Test
    public void writesAreHeldUntilLetGo() throws Exception {
        assertFalse(ledger.writesHeld());
        ledger.holdWrites(true);
        assertTrue("a WRITE's data waits in the socket while the journal is full", ledger.writesHeld());
        ledger.holdWrites(false);
        assertFalse(ledger.writesHeld());
    }

    // ---- budget and memory

    @Test
    public void theBudgetComesBackExactlyOnceOnEveryPath() throws Exception {
        long charged = 0;
        for (long cookie = 1; cookie <= 20; cookie++) {
            admitRead(cookie);
            charged += 512;
        }
        long g = begin();
        List<Long> sent = cookiesSent(g);
        answerAll(g, 1, 2, 3, 4, 5);
        ledger.refused(g, 6);
        long g2 = reconnect(g);
        answerAll(g2, cookiesSent(g2).subList(0, 5).stream().mapToLong(Long::longValue).toArray());
        writeAll();
        assertEquals(20, sent.size());
        assertEquals(10 * 512, budgetBack.get());
        assertEquals(10 * 512, ledger.charged());
        ledger.clientLeft();
        ledger.clientLeft();
        assertEquals(charged, budgetBack.get());
        assertEquals(0, ledger.charged());
    }

    @Test
    public void aWriteUnderWayKeepsItsPayloadAfterTheRequestIsAnsweredAndWritten() throws Exception {
        // The past race: the payload freed by a reply while another thread was still writing it upstream.
        ByteBuf data = pooled(8192);
        admit(write(1, data), 8192);
        long g = begin();
        Request writing = ledger.nextToSend(g);
        assertEquals(2, data.refCnt());
        assertTrue(ledger.answered(g, reply(1)));
        writeAll();
        assertEquals("the write's own reference", 1, data.refCnt());
        assertEquals(8192, writing.payload().remaining());
        writing.release();
    }

    // ---- hot update, sessions opened twice

    @Test
    public void aSecondLinkTakingTheLedgerOverSilencesTheFirst() throws Exception {
        admitRead(1);
        admitRead(2);
        long first = begin();
        assertEquals(List.of(1L, 2L), cookiesSent(first));
        assertTrue(ledger.answered(first, reply(1)));
        long second = begin(); // a hot update, or a session opened twice: the newest wins
        admitRead(3);
        assertNull(ledger.nextToSend(first));
        assertEquals("nothing while the first may still carry 2 out", List.of(), cookiesSent(second));
        assertFalse("the first link's late answer is dropped", ledger.answered(first, reply(2)));
        assertEquals("and lifts the fence", 1, wakes.get());
        assertEquals(List.of(2L, 3L), cookiesSent(second));
        assertEquals("it owes nothing more, so it may serve another client", 0, ledger.release(first));
        answerAll(second, 2, 3);
        writeAll();
        assertEquals(3, budgetBack.get() / 512);
    }

    @Test
    public void aLinkStillOwingAnswersWhenItLetsGoSaysSoAndItsDisconnectIsHandedOver() throws Exception {
        // The past fix: a stale reply on a reused connection met the next client's request of the same cookie.
        admitRead(7);
        long g = begin();
        ledger.nextToSend(g).release();
        ledger.clientLeft();
        assertEquals(1, ledger.release(g));

        RequestLedger next = new RequestLedger(budgetBack::addAndGet);
        next.admit(Request.of(Nbd.CMD_READ, 0, 7, 0, 512), Request.of(Nbd.CMD_READ, 0, 7, 0, 512), 512);
        long h = next.begin(null, () -> { });
        assertNull("not sent there: a reply for it would be a stray", next.lookup(h, 7));
        assertFalse(next.answered(h, reply(7)));
        Request disc = Request.of(Nbd.CMD_DISC, 0, 0, 0, 0);
        next.disconnect(disc);
        assertNull("a client only moving to another link keeps it", next.takeDisconnectOfDeparted());
        next.clientLeft();
        assertSame("the link letting go of a departed client takes it", disc, next.takeDisconnectOfDeparted());
        assertNull(next.takeDisconnectOfDeparted());
    }

    /**
     * A move to another link while the old one's server still holds a WRITE: the new generation sends nothing until
     * the old connection has ended (its server closed it). Sent at once, the copy could be answered and the blocks
     * written anew by the client before the old WRITE landed on top of them.
     */
    @Test
    public void aNewGenerationWaitsUntilTheOneBeforeCanCarryNothingOutAnyMore() throws Exception {
        long g1 = writeSentOnANewGeneration(7);
        long g2 = begin(); // the client moved to a link of the next connector
        assertEquals(1, ledger.release(g1)); // the old link let it go, its connection still open
        admitRead(8);
        assertNull("the WRITE is not sent again while the old server may still carry it out", ledger.nextToSend(g2));
        assertEquals("nor anything else", 2, ledger.queued());
        assertEquals(0, wakes.get());
        ledger.forget(g1); // its server closed the connection: what it read, it carried out
        assertEquals("the writer is told once", 1, wakes.get());
        assertEquals(List.of(7L, 8L), cookiesSent(g2));
        answerAll(g2, 7, 8);
        writeAll();
        assertEquals(0, ledger.inFlight());
        ledger.forget(g2);
        assertEquals("told only when it had been held", 1, wakes.get());
    }

    @Test
    public void anOlderGenerationOwingNothingHoldsNothingBack() throws Exception {
        admitRead(7);
        long g1 = begin();
        assertEquals(List.of(7L), cookiesSent(g1));
        assertTrue(ledger.answered(g1, reply(7))); // carried out and answered: nothing of it can land later
        long g2 = begin(); // not forgotten yet
        admitRead(8);
        assertEquals(List.of(8L), cookiesSent(g2));
        assertEquals(0, wakes.get());
        answerAll(g2, 8);
        writeAll();
    }

    @Test
    public void eshutdownForTheLastRequestOwedOnAnOlderGenerationLiftsTheFence() throws Exception {
        admitRead(1);
        long g1 = begin();
        assertEquals(List.of(1L), cookiesSent(g1));
        long g2 = begin();
        assertEquals(List.of(), cookiesSent(g2));
        ledger.refused(g1, 1); // the server refused it: it will never carry it out
        assertEquals(1, wakes.get());
        assertEquals(List.of(1L), cookiesSent(g2));
        answerAll(g2, 1);
        writeAll();
    }

    /**
     * A session the client moved away from may be reconnecting: when its connection comes, it must not take the
     * ledger back from the session the client moved to (that one would never send again).
     */
    @Test
    public void onlyTheSessionThatClaimedTheLedgerLastMayBeginAGeneration() throws Exception {
        Object left = new Object();
        Object movedTo = new Object();
        admitRead(1);
        ledger.claim(left);
        long g1 = ledger.begin(left, wakes::incrementAndGet);
        assertEquals(List.of(1L), cookiesSent(g1));
        ledger.forget(g1); // its connection was lost; it is reconnecting
        ledger.claim(movedTo); // meanwhile the client moves, to a session not connected yet
        assertEquals("the old session's reconnect begins nothing", -1, ledger.begin(left, wakes::incrementAndGet));
        long g2 = ledger.begin(movedTo, wakes::incrementAndGet);
        assertEquals(List.of(1L), cookiesSent(g2));
        answerAll(g2, 1);
        writeAll();
    }

    /**
     * A link's writer may still hold the generation when the link lets the client go (the client moves to another
     * link): nothing more goes out on it, though the client's requests wait, for the next generation to send.
     */
    @Test
    public void aGenerationLetGoSendsNothingMoreWhileTheClientsRequestsWait() throws Exception {
        admitRead(1);
        long g = begin();
        assertEquals(List.of(1L), cookiesSent(g));
        admitRead(2);
        assertEquals(1, ledger.release(g));
        assertNull("2 waits for the link that follows", ledger.nextToSend(g));
        long next = begin();
        assertEquals("which waits for the late reply on the first", List.of(), cookiesSent(next));
        assertFalse("the late reply on the first is no answer", ledger.answered(g, reply(1)));
        assertEquals("and its writer is told", 1, wakes.get());
        assertEquals("both go out on it, the unanswered one again", List.of(1L, 2L), cookiesSent(next));
        assertTrue(ledger.answered(next, reply(1)));
        assertTrue(ledger.answered(next, reply(2)));
        writeAll();
        assertEquals(0, ledger.inFlight());
    }

    /**
     * A link lets go of the client (it left, or moved to another link) while a reply is on its way: the connection
     * is replaced, but until it ends the reply is still decoded, and dropped, rather than met as a reply to nothing
     * sent (the past "simple reply for unknown cookie" with a healthy upstream during a hot update).
     */
    @Test
    public void aGenerationLetGoOwingRepliesStillDecodesThemUntilTheyComeOrTheConnectionEnds() throws Exception {
        admitRead(1);
        admitRead(2);
        admitRead(3);
        long g = begin();
        assertEquals(List.of(1L, 2L, 3L), cookiesSent(g));
        ledger.clientLeft(); // the client's requests are gone from the ledger, their replies still on the wire
        assertNotNull("decoded although the client has left", ledger.lookup(g, 1));
        assertEquals(3, ledger.release(g));
        admitRead(4); // refused: the client has left; nothing would be sent on g anyway
        assertNull("nothing more is sent on a generation let go", ledger.nextToSend(g));
        ByteBuf late = pooled(512);
        assertEquals(Answer.STALE, ledger.answered(g, reply(1, late), (sent, r) -> true));
        assertEquals("dropped, its memory back", 0, late.refCnt());
        assertNull("answered there once", ledger.lookup(g, 1));
        assertEquals(Nbd.CMD_READ, ledger.lookup(g, 2).type());
        ledger.forget(g); // the connection ended: 2 and 3 will never come
        assertNull(ledger.lookup(g, 2));
        assertEquals(0, ledger.awaitedOn(g));

        RequestLedger other = new RequestLedger(budgetBack::addAndGet);
        Request r = Request.of(Nbd.CMD_READ, 0, 9, 0, 512);
        other.admit(r, r, 512);
        long h = other.begin(null, () -> { });
        other.nextToSend(h).release();
        assertEquals(1, other.release(h));
        assertFalse("a late reply is no answer", other.answered(h, reply(9)));
        assertNull("once every late reply has come, the generation is gone", other.lookup(h, 9));
        other.clientLeft();
    }

    // ---- what the watchdog sees

    @Test
    public void theWatchdogSeesOnlyWhatTheConnectionOwes() throws Exception {
        long g = begin();
        assertNull(ledger.nextToSend(g));
        assertEquals(0, ledger.awaitedOn(g));
        admitRead(1);
        assertEquals("queued, not written: nothing awaited yet", 0, ledger.awaitedOn(g));
        ledger.nextToSend(g).release();
        assertEquals(1, ledger.awaitedOn(g));
        assertTrue(ledger.answered(g, reply(1)));
        assertEquals("a reply the client has not taken is not the upstream's debt", 0, ledger.awaitedOn(g));
        assertNull(ledger.nextToSend(g));
        assertEquals(1, ledger.inFlight());
        writeAll();
    }

    // ---- helpers

    private long begin() {
        return ledger.begin(null, wakes::incrementAndGet);
    }

    /** A link's reconnect: the old connection ended (fenced) and was forgotten before the next begins. */
    private long reconnect(long old) {
        ledger.forget(old);
        return begin();
    }

    private ByteBuf pooled(int bytes) {
        ByteBuf b = PayloadPool.shared().directBuffer(Math.max(bytes, 1));
        b.writerIndex(bytes);
        memory.add(b);
        return b;
    }

    private static Request write(long cookie, ByteBuf data) {
        return new Request(0, Nbd.CMD_WRITE, cookie, 0, data.readableBytes(), data.nioBuffer(), data);
    }

    /** A WRITE of 512 bytes admitted and written on a new generation, whose token is returned. */
    private long writeSentOnANewGeneration(long cookie) throws NbdException {
        admit(write(cookie, pooled(512)), 512);
        long g = begin();
        ledger.nextToSend(g).release(); // the writer's reference, given back once written
        return g;
    }

    private void admit(Request r, long cost) throws NbdException {
        ledger.admit(r, r, cost);
    }

    private void admitRead(long cookie) throws NbdException {
        Request r = Request.of(Nbd.CMD_READ, 0, cookie, cookie * 512, 512);
        ledger.admit(r, r, 512);
    }

    private Reply reply(long cookie) {
        return Reply.simple(cookie, 0, ByteBuffer.allocate(0));
    }

    private static Reply reply(long cookie, ByteBuf memory) {
        return Reply.simple(cookie, 0, memory.nioBuffer(), memory);
    }

    private List<Long> cookiesSent(long g) {
        List<Long> sent = new ArrayList<>();
        Request r;
        while ((r = ledger.nextToSend(g)) != null) {
            sent.add(r.cookie());
            r.release();
        }
        return sent;
    }

    private void answerAll(long g, long... cookies) {
        for (long c : cookies) {
            assertTrue("answer to " + c, ledger.answered(g, reply(c)));
        }
    }

    private void writeAll() {
        Delivery d;
        while ((d = ledger.takeAnswered()) != null) {
            assertNotNull(d.reply());
            d.reply().release();
            ledger.written(d);
        }
    }
}
