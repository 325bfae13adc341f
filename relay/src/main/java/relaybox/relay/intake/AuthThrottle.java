package relaybox.relay.intake;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns the limits on password guessing ({@code intake_auth_max_failures}): per connection, after
 * that many failed AUTH attempts the connection is ended with 421; per client address, every
 * failure from the limit on locks the address out for a doubling time (2 s, 4 s, ... up to
 * {@link #MAX_LOCKOUT}), during which its AUTH attempts get 421 without a password being checked.
 * A successful AUTH clears the address. Kept in memory: a restart forgets it, which is fine for a
 * brake on guessing.
 */
final class AuthThrottle {

    static final Duration MAX_LOCKOUT = Duration.ofMinutes(15);
    /** Addresses remembered at most; beyond it the oldest-unlocked are forgotten first. */
    private static final int MAX_ADDRESSES = 10_000;

    private record Failures(int count, Instant lockedUntil) { }

    private final int maxFailures;
    private final Clock clock;
    private final Map<String, Failures> byAddress = new ConcurrentHashMap<>();

    AuthThrottle(int maxFailures, Clock clock) {
        this.maxFailures = maxFailures;
        this.clock = clock;
    }

    int maxFailures() {
        return maxFailures;
    }

    /** True while {@code address} is locked out. */
    boolean locked(String address) {
        Failures f = byAddress.get(address);
        return f != null && f.lockedUntil() != null && clock.instant().isBefore(f.lockedUntil());
    }

    /** Records a failure from {@code address}; returns its failure count so far. */
    int failed(String address) {
        if (byAddress.size() >= MAX_ADDRESSES) {
            forgetUnlocked();
        }
        Failures f = byAddress.merge(address, new Failures(1, null), (old, one) -> {
            int n = old.count() + 1;
            return new Failures(n, n >= maxFailures ? clock.instant().plus(lockout(n - maxFailures)) : null);
        });
        if (f.count() >= maxFailures && f.lockedUntil() == null) {
            byAddress.put(address, new Failures(f.count(), clock.instant().plus(lockout(0))));
        }
        return f.count();
    }

    void succeeded(String address) {
        byAddress.remove(address);
    }

    /** 2 s after reaching the limit, doubling per further failure, at most {@link #MAX_LOCKOUT}. */
    static Duration lockout(int beyond) {
        long seconds = 2L << Math.min(beyond, 20);
        return seconds >= MAX_LOCKOUT.getSeconds() ? MAX_LOCKOUT : Duration.ofSeconds(seconds);
    }

    private void forgetUnlocked() {
        Instant now = clock.instant();
        for (Iterator<Failures> it = byAddress.values().iterator(); it.hasNext(); ) {
            Failures f = it.next();
            if (f.lockedUntil() == null || !now.isBefore(f.lockedUntil())) {
                it.remove();
            }
        }
    }
}
