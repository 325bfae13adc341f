package relaybox.relay.intake;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns the threads that check passwords ({@code intake_auth_threads}). A PBKDF2 check takes
 * 65-100 ms of CPU; run on an event loop it would stall every session on that loop for as long,
 * so every check runs here, and a session waits for its answer without holding its loop. The
 * queue in front of the threads is small and bounded: when it is full the check is not made and
 * the client is told to try later, so guessing cannot queue up unbounded work either.
 *
 * <p>Thread safety: safe for any thread.
 */
final class PasswordChecks implements AutoCloseable {

    /** Checks waiting per thread at most; past it AUTH gets 454 at once. */
    static final int QUEUED_PER_THREAD = 8;

    private final Credentials credentials;
    private final ThreadPoolExecutor pool;
    private final AtomicLong made = new AtomicLong();

    PasswordChecks(Credentials credentials, int threads) {
        this.credentials = credentials;
        this.pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(QUEUED_PER_THREAD * threads), r -> {
                    Thread t = new Thread(r, "intake-auth");
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
    }

    /**
     * Checks {@code user}'s {@code password} on the pool; the future completes (on a pool thread)
     * with the answer, or null when the pool was too busy to take the check.
     */
    CompletableFuture<Boolean> check(String user, String password) {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        try {
            pool.execute(() -> {
                try {
                    made.incrementAndGet();
                    f.complete(credentials.verify(user, password));
                } catch (RuntimeException e) {
                    f.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException busy) {
            f.complete(null);
        }
        return f;
    }

    /** Checks made so far (metrics and tests). */
    long made() {
        return made.get();
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
