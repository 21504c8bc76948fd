package org.flexnbd.downstream;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Moves the clients' sessions when the Upstream service comes or goes (a hot update of the upstream bundle), on a
 * thread of its own, {@code upstream-switch}, in the order SCR reported the changes: opening a session on a new
 * service may wait for its connection (for as long as an outage lasts: a client's move tries until it can, and the
 * moves after it wait), and resubmitting writes to its socket, neither of which belongs on SCR's thread, which binds
 * other components meanwhile.
 * <p>
 * Its failure policy: a failure to move one session, an Error included, is logged (E) and the others still move;
 * that session's requests stay in its ledger and go to the next service that comes. The thread lives on for the
 * next change.
 *
 * @param <S> a client's session
 */
final class UpstreamSwitch<S> {
    private static final Logger LOG = Logger.getLogger(UpstreamSwitch.class.getName());

    private final Iterable<S> sessions;
    private final Function<S, String> name;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "upstream-switch");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param sessions the sessions served now, read afresh at each change
     * @param name a session's name for the log (its client's address)
     */
    UpstreamSwitch(Iterable<S> sessions, Function<S, String> name) {
        this.sessions = sessions;
        this.name = name;
    }

    /** Applies {@code move} to every session, later, on the switch's thread; {@code what} names it for the log. */
    void moveAll(String what, Consumer<S> move) {
        try {
            thread.execute(() -> {
                for (S s : sessions) {
                    try {
                        move.accept(s);
                    } catch (RuntimeException | Error e) {
                        LOG.log(Level.SEVERE, "client " + name.apply(s) + ": cannot " + what, e);
                    }
                }
            });
        } catch (RejectedExecutionException stopped) {
            // SCR unbinds the upstream after the listener drained every session and stopped the switch: nothing is
            // left to move
        } catch (Error e) {
            // The thread could not be made (no heap, no thread left): the sessions keep their requests in their
            // ledgers, and the next change of service tries again.
            LOG.log(Level.SEVERE, "cannot " + what + " for any client", e);
        }
    }

    /** No move starts after this; one under way is interrupted. */
    void stop() {
        thread.shutdownNow();
    }
}
