package relaybox.relay.intake;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns the heap budget for header sections held by sessions ({@code intake_header_memory}): the
 * DKIM signer keeps a message's header section (up to 1 MiB) until the message ends, and the
 * header scanner a field. Each session reserves what it holds as it grows; a session that finds
 * the budget used up gets its message refused with {@code 452 4.3.1} and lets go of what it held,
 * so many sessions sending large header sections at once cannot exhaust the heap.
 *
 * <p>Thread safety: safe for any thread.
 */
final class HeaderMemory {

    private final long capacity;
    private final AtomicLong used = new AtomicLong();

    HeaderMemory(long capacity) {
        this.capacity = capacity;
    }

    /** Takes {@code n} bytes of the budget; false (and nothing taken) when they are not there. */
    boolean reserve(long n) {
        while (true) {
            long u = used.get();
            if (u + n > capacity) {
                return false;
            }
            if (used.compareAndSet(u, u + n)) {
                return true;
            }
        }
    }

    void release(long n) {
        used.addAndGet(-n);
    }

    /** Bytes reserved now (tests, and the log when a message is refused). */
    long used() {
        return used.get();
    }

    long capacity() {
        return capacity;
    }
}
