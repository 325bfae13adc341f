package relaybox.relay.intake;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The one poll-until helper of every module's tests: waits for a condition with a deadline (no
 * fixed sleeps), and on timeout fails naming what was awaited, with whatever context the caller
 * can add (a mail log, a daemon's output).
 */
public final class Awaits {
    /** How long {@link #until(BooleanSupplier, String)} waits. */
    public static final Duration DEFAULT = Duration.ofSeconds(10);
    private static final long POLL_MILLIS = 10;

    private Awaits() {
    }

    public static void until(BooleanSupplier condition, String what) throws InterruptedException {
        until(what, DEFAULT, condition);
    }

    public static void until(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        until(what, limit, condition::getAsBoolean, () -> "");
    }

    /**
     * Waits up to {@code limit} for {@code condition}; a condition that throws fails the test with
     * that exception. On timeout the failure names {@code what} and appends {@code context}.
     */
    public static void until(String what, Duration limit, Callable<Boolean> condition, Supplier<String> context)
            throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!call(condition)) {
            if (System.nanoTime() > deadline) {
                String more = context.get();
                fail("timed out after " + limit + " waiting for: " + what + (more.isEmpty() ? "" : "\n" + more));
            }
            Thread.sleep(POLL_MILLIS);
        }
    }

    private static boolean call(Callable<Boolean> condition) {
        try {
            return condition.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
