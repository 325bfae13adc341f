package relaybox.relay.control;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueFilter;
import relaybox.relay.control.api.ControlReply;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static relaybox.relay.control.ControlService.id;
import static relaybox.relay.control.ControlService.lower;

/**
 * Owns the control API's figures: {@code stats} (counts by state, the oldest entry, a qshape-like
 * histogram by age and by recipient domain, recent throughput, links) and the parts of
 * {@code status} they share. It reads, never changes.
 */
final class QueueStats {

    /** Postfix qshape's default age buckets, in minutes; the last bucket is open-ended. */
    static final int[] BUCKET_MINUTES = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
    private static final int TOP_DOMAINS = 10;

    private final Queue queue;
    private final StatusSource status;
    private final Clock clock;

    QueueStats(Queue queue, StatusSource status, Clock clock) {
        this.queue = queue;
        this.status = status;
        this.clock = clock;
    }

    /** The stats reply; {@code histogram}: with the histogram, one walk over every entry. */
    ControlReply stats(boolean histogram) {
        Instant now = clock.instant();
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        ObjectNode counts = out.putObject("counts");
        // The queue keeps its counts as it goes (and in its index): no walk.
        Map<EntryState, Long> c = queue.counts();
        long total = 0;
        for (Map.Entry<EntryState, Long> x : c.entrySet()) {
            if (x.getKey() != EntryState.DELIVERED) {
                counts.put(x.getKey().word(), x.getValue());
                total += x.getValue();
            }
        }
        out.put("total", total);
        out.put("depth", depth(c));
        Optional<QueueEntry> oldest = queue.oldest(EnumSet.complementOf(EnumSet.of(EntryState.DELIVERED)));
        if (oldest.isPresent()) {
            ObjectNode o = out.putObject("oldest");
            o.put("id", oldest.get().id().value());
            o.put("state", oldest.get().state().word());
            o.put("age", Duration.between(oldest.get().queuedAt(), now).getSeconds());
        } else {
            out.putNull("oldest");
        }
        if (histogram) {
            out.set("histogram", histogram(now));
        }
        throughput(out, now);
        out.set("links", ControlJson.MAPPER.valueToTree(links()));
        return ControlReply.ok(out);
    }

    /** Entries the forwarder still has to move: what a drain empties. */
    static long depth(Map<EntryState, Long> c) {
        return c.getOrDefault(EntryState.QUEUED, 0L) + c.getOrDefault(EntryState.DEFERRED, 0L)
                + c.getOrDefault(EntryState.SENDING, 0L);
    }

    /** Domains the histogram tells apart; past this many, new ones are counted as "(other)". */
    static final int MAX_DOMAINS = 10_000;

    /**
     * Entries by state and by age bucket, plus the busiest recipient domains counted by pending
     * recipient, like Postfix's qshape; the first count of each row is its total. One walk over
     * the queue through its cursor, in memory bounded by the number of domains kept.
     */
    private ObjectNode histogram(Instant now) {
        ObjectNode h = ControlJson.MAPPER.createObjectNode();
        ArrayNode labels = h.putArray("buckets");
        for (int m : BUCKET_MINUTES) {
            labels.add(m + "m");
        }
        labels.add(BUCKET_MINUTES[BUCKET_MINUTES.length - 1] + "m+");
        Map<String, long[]> byState = new LinkedHashMap<>();
        long[] total = new long[BUCKET_MINUTES.length + 1];
        Map<String, long[]> byDomain = new HashMap<>();
        queue.scan(QueueFilter.ALL, e -> {
            int b = bucket(Duration.between(e.queuedAt(), now));
            byState.computeIfAbsent(e.state().word(), k -> new long[BUCKET_MINUTES.length + 1])[b]++;
            total[b]++;
            for (String r : e.pendingRecipients()) {
                String domain = lower(r.substring(r.lastIndexOf('@') + 1));
                if (!byDomain.containsKey(domain) && byDomain.size() >= MAX_DOMAINS) {
                    domain = "(other)";
                }
                byDomain.computeIfAbsent(domain, k -> new long[BUCKET_MINUTES.length + 1])[b]++;
            }
            return true;
        });
        ArrayNode rows = h.putArray("states");
        row(rows, "TOTAL", total);
        for (EntryState s : EntryState.values()) {
            if (byState.containsKey(s.word())) {
                row(rows, s.word(), byState.get(s.word()));
            }
        }
        ArrayNode domains = h.putArray("domains");
        byDomain.entrySet().stream()
                .sorted(Comparator.comparingLong((Map.Entry<String, long[]> x) -> -sum(x.getValue()))
                        .thenComparing(Map.Entry::getKey))
                .limit(TOP_DOMAINS)
                .forEach(x -> row(domains, x.getKey(), x.getValue()));
        return h;
    }

    static int bucket(Duration age) {
        long minutes = age.toMinutes();
        for (int i = 0; i < BUCKET_MINUTES.length; i++) {
            if (minutes < BUCKET_MINUTES[i]) {
                return i;
            }
        }
        return BUCKET_MINUTES.length;
    }

    private static void row(ArrayNode rows, String name, long[] counts) {
        ObjectNode r = rows.addObject();
        r.put("name", name);
        r.put("total", sum(counts));
        ArrayNode a = r.putArray("counts");
        for (long n : counts) {
            a.add(n);
        }
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long n : a) {
            s += n;
        }
        return s;
    }

    void throughput(ObjectNode out, Instant now) {
        StatusSource.Throughput t = status.throughput(now);
        out.put("accepted_last_minute", t.acceptedLastMinute());
        out.put("accepted_last_hour", t.acceptedLastHour());
        out.put("delivered_last_minute", t.deliveredLastMinute());
        out.put("delivered_last_hour", t.deliveredLastHour());
    }

    List<Map<String, Object>> links() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (StatusSource.Link l : status.links()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("upstream", l.upstream());
            m.put("state", l.state());
            m.put("detail", l.detail());
            m.put("since", l.since() == null ? null : l.since().toString());
            m.put("next_attempt", l.nextAttempt() == null ? null : l.nextAttempt().toString());
            out.add(m);
        }
        return out;
    }
}
