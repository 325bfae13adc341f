package relaybox.relay.intake;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns the limits on password guessing, at three scopes, so that neither one address, nor the
 * many addresses one attacker gets in one network, nor everyone together can make the intake run
 * password checks without end:
 * <ul>
 * <li>per client address ({@code intake_auth_max_failures}): from that many failures on, the
 *     address is locked out for a doubling time (2 s, 4 s, ... up to {@link #MAX_LOCKOUT});</li>
 * <li>per network, an IPv4 /24 or an IPv6 /64 ({@code intake_auth_network_failures}): the same,
 *     for the failures of all its addresses together (one IPv6 host holds a whole /64);</li>
 * <li>globally ({@code intake_auth_global_failures}): at most that many failures per minute from
 *     everyone; past it AUTH is refused until the minute is over.</li>
 * </ul>
 * While a limit holds, AUTH is answered 421 without a password being checked (no oracle, no
 * PBKDF2 cost). A successful AUTH clears its address, not its network. Kept in memory: a restart
 * forgets it, which is fine for a brake on guessing.
 *
 * <p>Thread safety: safe for any thread (the event loops ask, the password-check pool records).
 */
final class AuthThrottle {

    static final Duration MAX_LOCKOUT = Duration.ofMinutes(15);
    /** Addresses and networks remembered at most, each; beyond it the unlocked are forgotten first. */
    private static final int MAX_KEYS = 10_000;

    /** Which limit refused a client: the {@code limit} label of the refusal metric. */
    enum Limit {
        ADDRESS, NETWORK, GLOBAL;

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private record Failures(int count, Instant lockedUntil) { }

    private final int maxFailures;
    private final int networkMaxFailures;
    private final int globalPerMinute;
    private final Clock clock;
    private final Map<String, Failures> byAddress = new ConcurrentHashMap<>();
    private final Map<String, Failures> byNetwork = new ConcurrentHashMap<>();
    private long minute;
    private int failuresThisMinute;

    AuthThrottle(int maxFailures, Clock clock) {
        this(maxFailures, Integer.MAX_VALUE, Integer.MAX_VALUE, clock);
    }

    AuthThrottle(int maxFailures, int networkMaxFailures, int globalPerMinute, Clock clock) {
        this.maxFailures = maxFailures;
        this.networkMaxFailures = networkMaxFailures;
        this.globalPerMinute = globalPerMinute;
        this.clock = clock;
    }

    int maxFailures() {
        return maxFailures;
    }

    /** True while {@code address} (a literal address) is locked out by its own failures. */
    boolean locked(String address) {
        return isLocked(byAddress.get(address));
    }

    /** The limit that refuses {@code client} now, or null when it may try a password. */
    Limit refuses(InetAddress client) {
        if (isLocked(byAddress.get(client.getHostAddress()))) {
            return Limit.ADDRESS;
        }
        if (isLocked(byNetwork.get(network(client)))) {
            return Limit.NETWORK;
        }
        synchronized (this) {
            if (currentMinute() == minute && failuresThisMinute >= globalPerMinute) {
                return Limit.GLOBAL;
            }
        }
        return null;
    }

    /** Records a failure from {@code address} (a literal address); returns its failure count so far. */
    int failed(String address) {
        return record(byAddress, address, maxFailures);
    }

    /** Records a failure from {@code client} at every scope; returns the address's count so far. */
    int failed(InetAddress client) {
        record(byNetwork, network(client), networkMaxFailures);
        synchronized (this) {
            long m = currentMinute();
            if (m != minute) {
                minute = m;
                failuresThisMinute = 0;
            }
            failuresThisMinute++;
        }
        return failed(client.getHostAddress());
    }

    void succeeded(String address) {
        byAddress.remove(address);
    }

    /** The network an address is counted in: its IPv4 /24 or its IPv6 /64, as text. */
    static String network(InetAddress a) {
        byte[] b = a.getAddress();
        int keep = a instanceof Inet4Address ? 3 : 8;
        StringBuilder s = new StringBuilder(a instanceof Inet4Address ? "v4:" : "v6:");
        for (int i = 0; i < keep; i++) {
            s.append(b[i] & 0xff).append('.');
        }
        return s.toString();
    }

    /** 2 s after reaching the limit, doubling per further failure, at most {@link #MAX_LOCKOUT}. */
    static Duration lockout(int beyond) {
        long seconds = 2L << Math.min(beyond, 20);
        return seconds >= MAX_LOCKOUT.getSeconds() ? MAX_LOCKOUT : Duration.ofSeconds(seconds);
    }

    private int record(Map<String, Failures> map, String key, int limit) {
        if (map.size() >= MAX_KEYS) {
            forgetUnlocked(map);
        }
        Instant now = clock.instant();
        Failures f = map.merge(key, new Failures(1, limit <= 1 ? now.plus(lockout(0)) : null), (old, one) -> {
            int n = old.count() + 1;
            return new Failures(n, n >= limit ? now.plus(lockout(n - limit)) : null);
        });
        return f.count();
    }

    private boolean isLocked(Failures f) {
        return f != null && f.lockedUntil() != null && clock.instant().isBefore(f.lockedUntil());
    }

    private long currentMinute() {
        return clock.millis() / 60_000;
    }

    private void forgetUnlocked(Map<String, Failures> map) {
        Instant now = clock.instant();
        for (Iterator<Failures> it = map.values().iterator(); it.hasNext(); ) {
            Failures f = it.next();
            if (f.lockedUntil() == null || !now.isBefore(f.lockedUntil())) {
                it.remove();
            }
        }
    }
}
