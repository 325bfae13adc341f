package relaybox.relay.forward;

import java.time.Duration;

/**
 * When a down upstream is probed next: a pure function, table-tested ({@code ProbeScheduleTest}).
 * A link failure (connection refused, timeout, a 4xx greeting) is probed every
 * {@code forward_probe_interval}, so mail flows again within seconds of the upstream's return. A
 * configuration-class failure (AUTH refused, certificate refused, STARTTLS missing) will not fix
 * itself: probing it every 5 s is 17,000 failed logins a day, which gets an ESP account locked or
 * the host banned by fail2ban. Those back off exponentially, from the probe interval doubling up
 * to {@link #MAX_BACKOFF}, until an operator acts ({@code relaybox upstream test},
 * {@code queue retry}, a changed secrets file) or the daemon is restarted.
 */
public final class ProbeSchedule {

    /** The longest wait between two probes of an upstream that refuses our configuration. */
    public static final Duration MAX_BACKOFF = Duration.ofMinutes(15);

    private ProbeSchedule() {
    }

    /**
     * @param interval       forward_probe_interval: the wait after a link failure, and the first
     *                       wait after a configuration failure
     * @param configFailures configuration-class failures in a row, 0 when the last was a link failure
     * @return how long to wait before the next probe
     */
    public static Duration next(Duration interval, int configFailures) {
        if (configFailures <= 0) {
            return interval;
        }
        // 2^(n-1) times the interval; the shift is capped so it cannot overflow.
        int shift = Math.min(configFailures - 1, 20);
        Duration d = interval.multipliedBy(1L << shift);
        return d.compareTo(MAX_BACKOFF) > 0 ? (interval.compareTo(MAX_BACKOFF) > 0 ? interval : MAX_BACKOFF) : d;
    }
}
