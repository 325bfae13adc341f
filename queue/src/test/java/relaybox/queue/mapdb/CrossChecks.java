package relaybox.queue.mapdb;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Test side of the background cross-check: waiting for it, as a test that asserts what it mends must. */
final class CrossChecks {

    private CrossChecks() {
    }

    /**
     * Returns once the queue's cross-check (if any) has ended, whether one ran to its end; throws
     * {@link IndexDamage.Damaged} when it found the index damaged, as a read meeting the damage would.
     */
    static boolean await(MapDbQueue q) throws Exception {
        try {
            return q.crossCheck().get(5, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IndexDamage.Damaged d) {
                throw d;
            }
            throw e;
        }
    }
}
