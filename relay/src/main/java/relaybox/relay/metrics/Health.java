package relaybox.relay.metrics;

import relaybox.queue.CrossCheckProgress;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Owns the health verdict served at {@code /healthz} (and meant for {@code relaybox status}):
 * <ul>
 *   <li><b>healthy</b>: the intake accepts and the store can commit (last commit succeeded and
 *       free space is above {@code queue_min_free_space});</li>
 *   <li><b>degraded</b>: as healthy, but an upstream link is down, being probed or paused (the
 *       reason says by what and until when), so mail is being buffered rather than forwarded; or
 *       the queue's cross-check after an unclean stop failed, so no spool segment is reclaimed
 *       until the next start. Still HTTP 200: an orchestrator must not restart a
 *       relay for an outage of its upstream, because buffering is exactly its job. A cross-check
 *       that is still running is healthy: mail flows meanwhile;</li>
 *   <li><b>unhealthy</b>: the store cannot commit, free space is below the reserve, or the intake
 *       is not accepting. HTTP 503: new mail is being refused with 4xx.</li>
 * </ul>
 * Reasons are short, stable phrases for humans and log shippers, e.g. {@code "upstream esp1 down"},
 * followed for a link that is not up by why, in the upstream's or provider's words:
 * {@code "upstream ms365 backoff: AUTH: token endpoint login.microsoftonline.com refused the
 * refresh_token grant: HTTP 400, invalid_grant: AADSTS700082: ..."}.
 */
public record Health(Status status, List<String> reasons) {

    public enum Status {
        HEALTHY, DEGRADED, UNHEALTHY;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The HTTP status for {@code /healthz}: 503 only when new mail cannot be accepted. */
        public int httpStatus() {
            return this == UNHEALTHY ? 503 : 200;
        }
    }

    public Health {
        reasons = List.copyOf(reasons);
    }

    /** Judges {@code source} once. Unhealthy reasons come first, then degraded ones. */
    public static Health evaluate(HealthSource source) {
        List<String> bad = new ArrayList<>();
        List<String> degraded = new ArrayList<>();
        if (!source.intakeAccepting()) {
            bad.add("intake not accepting");
        }
        if (!source.storeHealthy()) {
            bad.add("store cannot commit");
        }
        long free = source.freeSpace();
        if (free < 0) {
            bad.add("free space unknown");
        } else if (free < source.minFreeSpace()) {
            bad.add("free space " + free + " below queue_min_free_space " + source.minFreeSpace());
        }
        CrossCheckProgress check = source.crossCheck();
        if (check.phase() == CrossCheckProgress.Phase.FAILED) {
            degraded.add("queue cross-check failed: " + bounded(check.failure()));
        }
        // Sorted so the reasons are stable between requests and in tests.
        Map<String, String> why = source.linkReasons();
        for (Map.Entry<String, LinkState> l : new TreeMap<>(source.links()).entrySet()) {
            String pause = source.pauses().get(l.getKey());
            if (l.getValue() == LinkState.PAUSED && pause != null) {
                degraded.add("upstream " + l.getKey() + " paused (" + pause + ")");
            } else if (l.getValue() != LinkState.UP) {
                // The operator's first question is why: the provider's words (AADSTS700082, 535 5.7.139).
                String reason = why.getOrDefault(l.getKey(), "");
                degraded.add("upstream " + l.getKey() + " " + l.getValue().word() + (reason.isEmpty() ? ""
                        : ": " + bounded(reason)));
            }
        }
        Status s = !bad.isEmpty() ? Status.UNHEALTHY : !degraded.isEmpty() ? Status.DEGRADED : Status.HEALTHY;
        bad.addAll(degraded);
        return new Health(s, bad);
    }

    /** One line of at most 300 characters: a reason is for a health check, not a log. */
    private static String bounded(String reason) {
        String r = reason.replaceAll("\\p{Cntrl}+", " ").strip();
        return r.length() > 300 ? r.substring(0, 300) + "..." : r;
    }

    /** {@code {"status":"degraded","reasons":["upstream esp1 down"]}} */
    public String toJson() {
        StringBuilder b = new StringBuilder("{\"status\":\"").append(status.word()).append("\",\"reasons\":[");
        for (int i = 0; i < reasons.size(); i++) {
            b.append(i == 0 ? "" : ",");
            json(b, reasons.get(i));
        }
        return b.append("]}").toString();
    }

    private static void json(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
