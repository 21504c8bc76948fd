package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Failures forced on the moves of sessions to a new upstream service: each logged, and the other sessions move. */
public class UpstreamSwitchTest {
    private final Logger log = Logger.getLogger(UpstreamSwitch.class.getName());
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    /** What each session was told, in order: "session:service". */
    private final List<String> moved = new CopyOnWriteArrayList<>();
    private final List<String> sessions = new CopyOnWriteArrayList<>(List.of("a", "b", "c"));
    private final UpstreamSwitch<String> upstreamSwitch = new UpstreamSwitch<>(sessions, s -> "client-" + s);

    @Before
    public void captureLog() {
        log.setFilter(r -> !records.add(r)); // kept here, kept off the console
    }

    @After
    public void stop() {
        upstreamSwitch.stop();
        log.setFilter(null);
    }

    @Test
    public void aSessionThatFailsToMoveIsLoggedAndTheOthersStillMove() throws Exception {
        upstreamSwitch.moveAll("move to the new upstream service", s -> {
            if (s.equals("a")) {
                throw new OutOfMemoryError("forced: no heap for this session's connection");
            }
            if (s.equals("b")) {
                throw new IllegalStateException("forced: a session in a state it should not be in");
            }
            moved.add(s + ":new");
        });
        awaitMoves(1);
        assertEquals(List.of("c:new"), moved);
        List<LogRecord> severe = records.stream().filter(r -> r.getLevel() == Level.SEVERE).toList();
        assertEquals("each failure logged once, as E", 2, severe.size());
        assertEquals("client client-a: cannot move to the new upstream service", severe.get(0).getMessage());
        assertTrue(severe.get(0).getThrown() instanceof OutOfMemoryError);
        assertEquals("client client-b: cannot move to the new upstream service", severe.get(1).getMessage());
        assertTrue(severe.get(1).getThrown() instanceof IllegalStateException);

        // The thread lived on: the next service that comes gets every session, the two that failed included.
        upstreamSwitch.moveAll("move to the next upstream service", s -> moved.add(s + ":next"));
        awaitMoves(4);
        assertEquals(List.of("c:new", "a:next", "b:next", "c:next"), moved);
    }

    @Test
    public void changesAreAppliedInTheOrderTheyWereReported() throws Exception {
        CountDownLatch slowFirst = new CountDownLatch(1);
        upstreamSwitch.moveAll("leave the old service", s -> {
            if (s.equals("a")) {
                await(slowFirst); // connecting to the new service may take a while: what follows waits for it
            }
            moved.add(s + ":gone");
        });
        upstreamSwitch.moveAll("move to the new service", s -> moved.add(s + ":new"));
        slowFirst.countDown();
        awaitMoves(6);
        assertEquals(List.of("a:gone", "b:gone", "c:gone", "a:new", "b:new", "c:new"), moved);
    }

    @Test
    public void sessionsAreReadAfreshAtEachChange() throws Exception {
        upstreamSwitch.moveAll("move", s -> moved.add(s + ":1"));
        awaitMoves(3);
        sessions.remove("b");
        sessions.add("d");
        upstreamSwitch.moveAll("move", s -> moved.add(s + ":2"));
        awaitMoves(6);
        assertEquals(List.of("a:1", "b:1", "c:1", "a:2", "c:2", "d:2"), moved);
    }

    @Test
    public void nothingMovesAfterStopAndAChangeThenIsNoError() throws Exception {
        upstreamSwitch.stop();
        upstreamSwitch.moveAll("move", s -> moved.add(s));
        Thread.sleep(100); // a move would have come within this (the moves above take microseconds)
        assertEquals(List.of(), moved);
        assertEquals(List.of(), records);
    }

    private void awaitMoves(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (moved.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals("moves done within 5 s: " + moved, n, moved.size());
    }

    private static void await(CountDownLatch l) {
        try {
            assertTrue(l.await(5, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
