package relaybox.relay.reliability;

import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Owns a crash loop's account of where its duplicates come from: the kills (kind and moment) and
 * the daemon's running time, each duplicate charged to the kill that cut it off, and the window a
 * kill can hit, measured per message from the sink's reading its "." to the daemon's "delivered"
 * log line (written right after the outcome is journalled).
 *
 * <p>Which kill: every copy of a message but its last was in flight when a daemon died (the test
 * asserts that none was sent after the relay went on past its 250). Its connection was opened by
 * the daemon that sent it, so after that daemon's start and before its kill: the copy is charged
 * to the first kill that began after its connection was accepted. A copy the sink read only after
 * that kill's SIGKILL was sent had left the relay before it (a killed process runs no more code);
 * the sink was just behind, while the killed JVM was being torn down.
 *
 * <p>Not thread safe: the test's main thread records kills and reads the figures.
 */
final class KillLedger {

    /** One SIGKILL: its kind (as the test names it), when it was sent and when the process was gone. */
    record Kill(String kind, long sentNanos, long goneNanos) { }

    /** One kind's figures: kills, duplicates charged to them, of which the stalled copies and those read after the SIGKILL. */
    record KindFigures(int kills, int duplicates, int stalled, int readAfterSignal) {
        double perKill() {
            return kills == 0 ? 0 : duplicates / (double) kills;
        }
    }

    /** The window figures, in milliseconds, over {@code n} messages delivered once. */
    record Window(int n, double mean, long p50, long p90, long p99, long max) { }

    /** "HH:mm:ss.SSS LEVEL logger: QUEUEID forward delivered", as {@link DaemonProcess#LOGBACK} writes it. */
    private static final Pattern DELIVERED = Pattern.compile(
            "(?m)^(\\d{2}):(\\d{2}):(\\d{2})\\.(\\d{3}) +INFO +\\S+: (\\S+) forward delivered ");
    private static final long DAY_MILLIS = 86_400_000L;

    private final List<Kill> kills = new ArrayList<>();
    /** When each daemon became ready, in order. */
    private final List<Long> readies = new ArrayList<>();
    private long upSince = -1;
    private long upNanos;

    /** A daemon is being spawned now: its time up counts from here if it is killed before it is ready. */
    void spawning() {
        upSince = System.nanoTime();
    }

    /**
     * The daemon is ready (its intake answers): its time up counts from here, since a start on a
     * loaded machine takes seconds in which nothing is sent.
     */
    void ready() {
        upSince = System.nanoTime();
        readies.add(upSince);
    }

    /** The daemon was killed: SIGKILL sent at {@code sentNanos}, the process gone at {@code goneNanos}. */
    void killed(String kind, long sentNanos, long goneNanos) {
        kills.add(new Kill(kind, sentNanos, goneNanos));
        if (upSince >= 0) {
            upNanos += sentNanos - upSince;
            upSince = -1;
        }
    }

    /** Mean milliseconds from a SIGKILL to the process being gone (reaped). */
    double meanTeardownMillis() {
        return kills.stream().mapToLong(k -> k.goneNanos() - k.sentNanos()).average().orElse(0) / 1e6;
    }

    /** Seconds the killed daemons ran, from ready (or spawn, for those killed while starting) to SIGKILL. */
    double upSeconds() {
        return upNanos / 1e9;
    }

    /**
     * Charges every copy but the last of each message to a kill and sums them by the kill's kind
     * (kinds with no kill are absent; copies after the last kill, which no kill explains, go under
     * "no kill").
     */
    Map<String, KindFigures> byKind(Collection<UpstreamSink.Copy> copies) {
        Map<String, int[]> sums = new TreeMap<>();
        for (Kill k : kills) {
            sums.computeIfAbsent(k.kind(), x -> new int[4])[0]++;
        }
        for (UpstreamSink.Copy c : duplicates(copies)) {
            Kill k = killAfter(c.connectedNanos());
            int[] s = sums.computeIfAbsent(k == null ? "no kill" : k.kind(), x -> new int[4]);
            s[1]++;
            if (c.stalled()) {
                s[2]++;
            }
            if (k != null && c.dotNanos() >= k.sentNanos()) {
                s[3]++;
            }
        }
        Map<String, KindFigures> out = new TreeMap<>();
        sums.forEach((kind, s) -> out.put(kind, new KindFigures(s[0], s[1], s[2], s[3])));
        return out;
    }

    /** Every copy but the last of each message: the ones a kill cut off. */
    private static List<UpstreamSink.Copy> duplicates(Collection<UpstreamSink.Copy> copies) {
        Map<String, List<UpstreamSink.Copy>> perId = new HashMap<>();
        copies.forEach(c -> perId.computeIfAbsent(c.id(), x -> new ArrayList<>()).add(c));
        List<UpstreamSink.Copy> out = new ArrayList<>();
        for (List<UpstreamSink.Copy> cs : perId.values()) {
            cs.sort(Comparator.comparingLong(UpstreamSink.Copy::dotNanos));
            out.addAll(cs.subList(0, cs.size() - 1));
        }
        return out;
    }

    /** The first kill sent at or after {@code nanos}, or null. */
    private Kill killAfter(long nanos) {
        for (Kill k : kills) {
            if (k.sentNanos() >= nanos) {
                return k;
            }
        }
        return null;
    }

    /** Copies per second the killed daemons sent (read by the sink before the last kill), over their time up. */
    double rate(Collection<UpstreamSink.Copy> copies) {
        return whileKilledDaemonsRan(copies).size() / Math.max(1e-9, upSeconds());
    }

    /** The copies whose "." the sink read before the last SIGKILL: those the killed daemons sent. */
    private List<UpstreamSink.Copy> whileKilledDaemonsRan(Collection<UpstreamSink.Copy> copies) {
        long last = kills.isEmpty() ? Long.MIN_VALUE : kills.get(kills.size() - 1).sentNanos();
        return copies.stream().filter(c -> c.dotNanos() < last).toList();
    }

    /**
     * The window from the sink's reading a message's "." to the daemon's "delivered" line for it,
     * over the messages of the killed daemons that the sink got once and the daemon logged once
     * ({@code queueIds}: test id to queue id); null when there are none. Both clocks are this
     * machine's wall clock, the log's to the millisecond.
     */
    Window window(Collection<UpstreamSink.Copy> all, Map<String, String> queueIds, String daemonLog) {
        return window(all, queueIds, daemonLog, c -> true);
    }

    /**
     * {@link #window} over the messages whose "." the sink read from {@code fromMillis} to before
     * {@code toMillis} after their daemon became ready: a kill soon after a start (upstream-stall
     * kills come in its first 200 ms, random ones in its first 1.55 s) meets a JVM whose code is
     * not yet loaded, linked and compiled.
     */
    Window windowAfterReady(Collection<UpstreamSink.Copy> all, Map<String, String> queueIds, String daemonLog,
                            long fromMillis, long toMillis) {
        return window(all, queueIds, daemonLog, c -> {
            long since = sinceReady(c.dotNanos());
            return since >= fromMillis * 1_000_000 && since < toMillis * 1_000_000;
        });
    }

    /** Nanoseconds from the last ready before {@code nanos} to it, or -1 if none came before. */
    private long sinceReady(long nanos) {
        long last = -1;
        for (long r : readies) {
            if (r <= nanos) {
                last = r;
            }
        }
        return last < 0 ? -1 : nanos - last;
    }

    private Window window(Collection<UpstreamSink.Copy> all, Map<String, String> queueIds, String daemonLog,
                          java.util.function.Predicate<UpstreamSink.Copy> which) {
        List<UpstreamSink.Copy> copies = whileKilledDaemonsRan(all).stream().filter(which).toList();
        Map<String, Long> loggedAt = new HashMap<>();
        Map<String, Integer> lines = new HashMap<>();
        Matcher m = DELIVERED.matcher(daemonLog);
        while (m.find()) {
            long ms = ((Long.parseLong(m.group(1)) * 60 + Long.parseLong(m.group(2))) * 60
                    + Long.parseLong(m.group(3))) * 1000 + Long.parseLong(m.group(4));
            loggedAt.put(m.group(5), ms);
            lines.merge(m.group(5), 1, Integer::sum);
        }
        Map<String, Integer> perId = new HashMap<>();
        all.forEach(c -> perId.merge(c.id(), 1, Integer::sum));
        List<Long> w = new ArrayList<>();
        for (UpstreamSink.Copy c : copies) {
            String q = queueIds.get(c.id());
            if (q == null || perId.get(c.id()) != 1 || lines.getOrDefault(q, 0) != 1) {
                continue;
            }
            long dot = LocalTime.ofInstant(Instant.ofEpochMilli(c.dotMillis()), ZoneId.systemDefault())
                    .toNanoOfDay() / 1_000_000;
            long d = Math.floorMod(loggedAt.get(q) - dot + DAY_MILLIS / 2, DAY_MILLIS) - DAY_MILLIS / 2;
            w.add(d);
        }
        if (w.isEmpty()) {
            return null;
        }
        w.sort(null);
        double mean = w.stream().mapToLong(Long::longValue).average().orElse(0);
        return new Window(w.size(), mean, pct(w, 50), pct(w, 90), pct(w, 99), w.get(w.size() - 1));
    }

    private static long pct(List<Long> sorted, int p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    /** One line: per kind, kills, duplicates and duplicates per kill. */
    static String describe(Map<String, KindFigures> byKind) {
        StringBuilder b = new StringBuilder();
        byKind.forEach((kind, f) -> {
            if (b.length() > 0) {
                b.append("; ");
            }
            b.append(kind).append(": ").append(f.kills()).append(" kills, ").append(f.duplicates())
                    .append(" duplicates");
            if (f.kills() > 0) {
                b.append(String.format(java.util.Locale.ROOT, " (%.2f per kill", f.perKill()));
                if (f.stalled() > 0) {
                    b.append(", ").append(f.stalled()).append(" of them the stalled copy");
                }
                b.append(", ").append(f.readAfterSignal()).append(" read by the sink after the SIGKILL)");
            }
        });
        // The copy each upstream-stall kill holds is the sink's by construction (it has the
        // message and withholds the 250): the rest is what the relay's own timing costs.
        int kills = byKind.values().stream().mapToInt(KindFigures::kills).sum();
        int dups = byKind.values().stream().mapToInt(KindFigures::duplicates).sum();
        int held = byKind.values().stream().mapToInt(KindFigures::stalled).sum();
        if (kills > 0) {
            b.append(String.format(java.util.Locale.ROOT, "; in total: %d duplicates over %d kills (%.2f per kill), "
                    + "%.2f per kill without the %d copies the stalled sink held", dups, kills,
                    dups / (double) kills, (dups - held) / (double) kills, held));
        }
        return b.toString();
    }

    /**
     * One line per kill, for a run asked to explain itself ({@code -Dcrashloop.detail=true}): its
     * kind, how long after its daemon's ready it came, the copies the sink read in the 100 ms
     * before it, and for each duplicate charged to it how long before the SIGKILL its "." was read.
     */
    String details(Collection<UpstreamSink.Copy> copies) {
        Map<Kill, List<String>> charged = new HashMap<>();
        for (UpstreamSink.Copy c : duplicates(copies)) {
            Kill k = killAfter(c.connectedNanos());
            if (k != null) {
                charged.computeIfAbsent(k, x -> new ArrayList<>()).add(String.format(java.util.Locale.ROOT,
                        "%.1f%s", (k.sentNanos() - c.dotNanos()) / 1e6, c.stalled() ? "s" : ""));
            }
        }
        StringBuilder b = new StringBuilder();
        for (Kill k : kills) {
            long since = sinceReady(k.sentNanos());
            long before = copies.stream().filter(c -> c.dotNanos() < k.sentNanos()
                    && c.dotNanos() >= k.sentNanos() - 100_000_000L).count();
            b.append(String.format(java.util.Locale.ROOT, "kill %-16s %7.0f ms after ready, %3d copies in the 100 ms before, dups at (ms before) %s%n",
                    k.kind(), since < 0 ? -1.0 : since / 1e6, before,
                    charged.getOrDefault(k, List.of())));
        }
        return b.toString();
    }
}
