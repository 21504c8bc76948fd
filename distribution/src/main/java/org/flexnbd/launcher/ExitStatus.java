package org.flexnbd.launcher;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.IntConsumer;

/** The process's exit status, decided once: by the cli, by a signal, or by the framework stopping. First one wins. */
final class ExitStatus implements IntConsumer {
    private final CompletableFuture<Integer> status = new CompletableFuture<>();

    @Override
    public void accept(int value) {
        status.complete(value);
    }

    /** Waits for the status. */
    int await() throws InterruptedException {
        try {
            return status.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }
}
