package org.flexnbd.upstream;

import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs a thread's body again whenever it fails, after a pause, until it is stopped: the failure policy of an
 * upstream link's thread. A link that died silently would leave its client's requests unanswered for ever; one that
 * restarts reconnects and retransmits them, as after any upstream loss. Every failure is logged (E).
 */
final class RestartingLoop implements Runnable {
    private static final Logger LOG = Logger.getLogger(RestartingLoop.class.getName());

    private final String what;
    private final Runnable body;
    private final Runnable afterFailure;
    private final BooleanSupplier stopped;
    private final long pauseMillis;

    /**
     * @param body returns when the piece stops; throws when it fails
     * @param afterFailure puts the piece's state right for the next run (it must not throw)
     */
    RestartingLoop(String what, Runnable body, Runnable afterFailure, BooleanSupplier stopped, long pauseMillis) {
        this.what = what;
        this.body = body;
        this.afterFailure = afterFailure;
        this.stopped = stopped;
        this.pauseMillis = pauseMillis;
    }

    @Override
    public void run() {
        while (true) {
            try {
                body.run();
                return;
            } catch (Throwable e) { // an Error too: OutOfMemoryError, a reader thread that could not be made
                if (stopped.getAsBoolean()) {
                    return;
                }
                LOG.log(Level.SEVERE, what + " failed; restarting it in " + pauseMillis + " ms", e);
                afterFailure.run();
                try {
                    Thread.sleep(pauseMillis);
                } catch (InterruptedException stop) {
                    return;
                }
            }
        }
    }
}
