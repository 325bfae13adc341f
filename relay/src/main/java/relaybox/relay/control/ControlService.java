package relaybox.relay.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.mapdb.EntryCodec;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.log.MailLog;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Owns the meaning of every control request: turns one JSON request into one {@link ControlReply}
 * by reading or steering the {@link Queue} and reading the {@link StatusSource}. It does not own
 * the socket (that is {@link ControlServer}) and never opens the store itself, so the same service
 * answers over the daemon's socket and, in offline mode, inside the CLI over a store the CLI
 * opened while the daemon was stopped.
 *
 * <h2>Requests</h2>
 * Every request is an object with {@code "op"}:
 * <pre>
 * list          state (comma list of state words), older_than ("2h"), sender, recipient (substrings)
 * show          id                 → entry, text (readable record), headers
 * raw           id                 → the stored message as sent, streamed after the JSON line
 * delete        ids | all | failed
 * hold          ids | all          (all: queued, deferred, failed); per id "already" when it
 *                                  is in the wanted state (also release, retry): not an error
 * release       ids | all          (all: held)
 * retry         ids | all          (all: queued, deferred; makes them due now; with
 *                                   summary, the reply counts them instead of listing them)
 * requeue       ids | failed       (failed recipients get a new life)
 * stats         counts, age histogram (qshape buckets), oldest, throughput, links
 * status        listeners, depth, queue health, links
 * upstream-test probes each upstream without sending mail
 * config-show   the effective configuration, secrets masked, as the daemon rendered it
 * </pre>
 *
 * <h2>Thread safety</h2>
 * Requests may run concurrently; the queue serialises its own transitions. Bulk actions run on a
 * small pool so that many admin transitions share the queue's group commits.
 */
public final class ControlService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);

    /** Postfix qshape's default age buckets, in minutes; the last bucket is open-ended. */
    static final int[] BUCKET_MINUTES = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
    private static final int HEADER_LIMIT = 64 * 1024;
    private static final int TOP_DOMAINS = 10;

    private final Queue queue;
    private final StatusSource status;
    private final UpstreamTester tester;
    private final Supplier<String> effectiveConfig;
    private final MailLog mailLog;
    private final Clock clock;
    /** What "retry" asks of the forwarder besides making entries due: probe down upstreams now. */
    private volatile Runnable onRetry = () -> { };
    /**
     * Runs the per-entry actions of a bulk request (hold, release, delete all). Each waits for its
     * own commit, so as many as run at once share one: with 8 threads, 10,000 entries took 2.7 s;
     * with 64, about a sixth of the commits.
     */
    private final ExecutorService bulk = Executors.newFixedThreadPool(64, r -> {
        Thread t = new Thread(r, "control-bulk");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param tester          answers upstream-test; null when not wired (the request then says so)
     * @param effectiveConfig renders the effective configuration with secrets masked; null when
     *                        not available (offline mode)
     */
    public ControlService(Queue queue, StatusSource status, UpstreamTester tester, Supplier<String> effectiveConfig,
                          MailLog mailLog, Clock clock) {
        this.queue = queue;
        this.status = status;
        this.tester = tester;
        this.effectiveConfig = effectiveConfig;
        this.mailLog = mailLog;
        this.clock = clock;
    }

    /**
     * Called after a retry request: the daemon wires the dispatcher's immediate probe here, so
     * that "queue retry" after an outage sends now, not at the next probe interval (as
     * {@code postqueue -f} does for Postfix).
     */
    public void onRetry(Runnable r) {
        this.onRetry = r;
    }

    /** Answers one request; {@code peer} names the caller for the audit line ("uid 0"). */
    public ControlReply handle(JsonNode request, String peer) {
        String op = request.path("op").asText("");
        try {
            return switch (op) {
                case "list" -> list(request);
                case "show" -> show(request);
                case "raw" -> raw(request);
                case "delete", "hold", "release", "retry", "requeue" -> act(op, request, peer);
                case "stats" -> stats();
                case "status" -> status();
                case "upstream-test" -> upstreamTest();
                case "config-show" -> configShow();
                default -> ControlReply.error(ControlReply.BAD_REQUEST, "unknown request \"" + op + "\"");
            };
        } catch (BadRequest e) {
            return ControlReply.error(ControlReply.BAD_REQUEST, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ControlReply.error(ControlReply.INTERNAL, "interrupted");
        } catch (RuntimeException e) {
            // A bug must not take the control socket down with it; the caller sees the error.
            LOG.error("control request {} failed", op, e);
            return ControlReply.error(ControlReply.INTERNAL, op + ": " + e);
        }
    }

    private ControlReply list(JsonNode req) throws BadRequest {
        Instant now = clock.instant();
        Predicate<QueueEntry> filter = filter(req, now);
        ArrayNode entries = ControlJson.MAPPER.createArrayNode();
        StatusSource.Link blocked = blocking(status.links());
        for (QueueEntry e : queue.list()) {
            if (filter.test(e)) {
                entries.add(ControlJson.MAPPER.valueToTree(ControlJson.EntryView.of(e, now).waitingFor(blocked)));
            }
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.set("entries", entries);
        return ControlReply.ok(out);
    }

    /**
     * The link every waiting entry waits for, or null: when every upstream is down nothing is
     * leased, so an entry's own "next" (often "now") is not when it will be tried. The truth is
     * the earliest next probe, and the reason is the link's (its error or literal reply).
     */
    static StatusSource.Link blocking(List<StatusSource.Link> links) {
        if (links.isEmpty() || !links.stream().allMatch(StatusSource.Link::down)) {
            return null;
        }
        return links.stream().filter(l -> l.nextAttempt() != null)
                .min(Comparator.comparing(StatusSource.Link::nextAttempt)).orElse(links.get(0));
    }

    static Predicate<QueueEntry> filter(JsonNode req, Instant now) throws BadRequest {
        Predicate<QueueEntry> p = e -> true;
        String states = req.path("state").asText("");
        if (!states.isBlank()) {
            Set<EntryState> wanted = EnumSet.noneOf(EntryState.class);
            for (String s : states.split(",")) {
                wanted.add(state(s.trim()));
            }
            p = p.and(e -> wanted.contains(e.state()));
        }
        String older = req.path("older_than").asText("");
        if (!older.isBlank()) {
            Duration d = ConfigReader.parseDuration(older)
                    .orElseThrow(() -> new BadRequest("older-than: expected a duration like 30m, 2h or 5d (got \""
                            + older + "\")"));
            Instant cut = now.minus(d);
            p = p.and(e -> e.queuedAt().isBefore(cut));
        }
        String sender = lower(req.path("sender").asText(""));
        if (!sender.isEmpty()) {
            p = p.and(e -> lower(e.envelope().sender()).contains(sender));
        }
        String rcpt = lower(req.path("recipient").asText(""));
        if (!rcpt.isEmpty()) {
            p = p.and(e -> e.recipients().stream().anyMatch(r -> lower(r.address()).contains(rcpt)));
        }
        return p;
    }

    private static EntryState state(String word) throws BadRequest {
        for (EntryState s : EntryState.values()) {
            if (s.word().equals(lower(word))) {
                return s;
            }
        }
        throw new BadRequest("state: expected one of queued, sending, deferred, held, failed, quarantined (got \""
                + word + "\")");
    }

    private ControlReply show(JsonNode req) throws BadRequest {
        QueueId id = id(req.path("id").asText(""));
        Optional<QueueEntry> e = queue.get(id);
        if (e.isEmpty()) {
            return notFound(id);
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.set("entry", ControlJson.MAPPER.valueToTree(ControlJson.EntryView.of(e.get(), clock.instant())
                .waitingFor(blocking(status.links()))));
        out.put("text", EntryCodec.toText(e.get()));
        try (InputStream in = queue.openMessage(id)) {
            out.put("headers", headers(in));
        } catch (IOException ex) {
            // A quarantined entry may have lost its message; the record is still worth showing.
            out.put("headers", "");
            out.put("headers_error", ex.getMessage());
        }
        return ControlReply.ok(out);
    }

    /** The header section: bytes up to the first empty line, capped so a broken message cannot flood. */
    static String headers(InputStream in) throws IOException {
        byte[] buf = in.readNBytes(HEADER_LIMIT);
        String s = new String(buf, StandardCharsets.UTF_8);
        int end = s.indexOf("\r\n\r\n");
        return end >= 0 ? s.substring(0, end + 2) : s;
    }

    private ControlReply raw(JsonNode req) throws BadRequest {
        QueueId id = id(req.path("id").asText(""));
        if (queue.get(id).isEmpty()) {
            return notFound(id);
        }
        try {
            ObjectNode out = ControlJson.MAPPER.createObjectNode();
            out.put("ok", true);
            out.put("id", id.value());
            return new ControlReply(out, queue.openMessage(id));
        } catch (IOException e) {
            return ControlReply.error(ControlReply.NOT_AVAILABLE, "message of " + id + " cannot be read: " + e.getMessage());
        }
    }

    private ControlReply act(String op, JsonNode req, String peer) throws BadRequest, InterruptedException {
        boolean all = req.path("all").asBoolean(false);
        boolean failed = req.path("failed").asBoolean(false);
        List<QueueId> ids = new ArrayList<>();
        for (JsonNode n : req.path("ids")) {
            ids.add(id(n.asText()));
        }
        int selectors = (all ? 1 : 0) + (failed ? 1 : 0) + (ids.isEmpty() ? 0 : 1);
        if (selectors != 1) {
            throw new BadRequest(op + ": give queue ids, or " + (op.equals("requeue") ? "failed" : op.equals("delete")
                    ? "all or failed" : "all") + ", but only one of them");
        }
        if (failed && !(op.equals("delete") || op.equals("requeue"))) {
            throw new BadRequest(op + ": failed is only for delete and requeue");
        }
        if (all && op.equals("requeue")) {
            throw new BadRequest("requeue: use failed to requeue every failed entry");
        }
        if (all && op.equals("retry")) {
            return flush(peer, req.path("summary").asBoolean(false));
        }
        if (!ids.isEmpty() && ids.size() != ids.stream().distinct().count()) {
            ids = ids.stream().distinct().toList();
        }
        if (ids.isEmpty()) {
            Set<EntryState> from = failed ? EnumSet.of(EntryState.FAILED) : switch (op) {
                case "hold" -> EnumSet.of(EntryState.QUEUED, EntryState.DEFERRED, EntryState.FAILED);
                case "release" -> EnumSet.of(EntryState.HELD);
                case "retry" -> EnumSet.of(EntryState.QUEUED, EntryState.DEFERRED);
                default -> EnumSet.allOf(EntryState.class);
            };
            ids = queue.list().stream().filter(e -> from.contains(e.state())).map(QueueEntry::id).toList();
        }
        List<Future<String>> results = new ArrayList<>(ids.size());
        for (QueueId id : ids) {
            results.add(bulk.submit(() -> apply(op, id)));
        }
        ArrayNode rows = ControlJson.MAPPER.createArrayNode();
        Map<String, Integer> totals = new LinkedHashMap<>();
        totals.put("done", 0);
        totals.put("not_found", 0);
        totals.put("not_applicable", 0);
        totals.put("already", 0);
        totals.put("error", 0);
        for (int i = 0; i < ids.size(); i++) {
            String result;
            try {
                result = results.get(i).get();
            } catch (ExecutionException e) {
                result = "error: " + e.getCause();
            }
            ObjectNode row = rows.addObject();
            row.put("id", ids.get(i).value());
            row.put("result", result.startsWith("error") ? "error" : result);
            if (result.startsWith("error")) {
                row.put("message", result.substring("error: ".length()));
            }
            totals.merge(row.get("result").asText(), 1, Integer::sum);
        }
        LOG.info("control {} by {}: {} selected, {}", op, peer, ids.size(), totals);
        if (op.equals("retry")) {
            onRetry.run();
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("action", op);
        out.set("results", rows);
        totals.forEach(out::put);
        return ControlReply.ok(out);
    }

    /**
     * "retry --all", relaybox's {@code postqueue -f}: down upstreams are probed first, so sending
     * can start at once, then every queued and deferred entry is made due in one pass over the
     * queue. The per-entry path (a durable write each) took 2.3 s over 10,000 entries and held the
     * CPU the drain needed; a lost "due now" costs nothing, the entry keeps its old schedule.
     */
    private ControlReply flush(String peer, boolean summary) {
        onRetry.run();
        Set<EntryState> from = EnumSet.of(EntryState.QUEUED, EntryState.DEFERRED);
        List<QueueId> ids = queue.list().stream().filter(e -> from.contains(e.state())).map(QueueEntry::id).toList();
        int moved = queue.retryAll(clock.instant());
        LOG.info("control retry by {}: {} queued or deferred, all due now ({} were waiting for a retry time)",
                peer, ids.size(), moved);
        ArrayNode rows = ControlJson.MAPPER.createArrayNode();
        if (!summary) {
            for (QueueId id : ids) {
                rows.addObject().put("id", id.value()).put("result", "done");
            }
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("action", "retry");
        out.set("results", rows);
        if (summary) {
            out.put("selected", ids.size());
        }
        out.put("done", ids.size());
        out.put("not_found", 0);
        out.put("not_applicable", 0);
        out.put("error", 0);
        return ControlReply.ok(out);
    }

    private String apply(String op, QueueId id) {
        try {
            Queue.ActionResult r = switch (op) {
                case "delete" -> queue.delete(id);
                case "hold" -> queue.hold(id);
                case "release" -> queue.release(id);
                case "retry" -> queue.retryNow(id);
                case "requeue" -> queue.requeue(id);
                default -> throw new IllegalArgumentException(op);
            };
            if (r == Queue.ActionResult.DONE) {
                mailLog.queueEvent(id, switch (op) {
                    case "delete" -> "deleted";
                    case "hold" -> "held";
                    case "release" -> "released";
                    case "retry" -> "retried";
                    default -> "requeued";
                });
            }
            if (r == Queue.ActionResult.NOT_APPLICABLE && already(op, id)) {
                // Repeating an action is not an error: the entry is where the operator wants it.
                return "already";
            }
            return r.name().toLowerCase(Locale.ROOT);
        } catch (QueueException e) {
            return "error: " + e.getMessage();
        }
    }

    /** True when {@code id} is already in the state {@code op} would move it to. */
    private boolean already(String op, QueueId id) {
        EntryState st = queue.get(id).map(QueueEntry::state).orElse(null);
        return switch (op) {
            case "hold" -> st == EntryState.HELD;
            case "release" -> st == EntryState.QUEUED || st == EntryState.DEFERRED;
            case "retry" -> st == EntryState.QUEUED || st == EntryState.SENDING;
            default -> false;
        };
    }

    private ControlReply stats() {
        Instant now = clock.instant();
        List<QueueEntry> all = queue.list();
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        ObjectNode counts = out.putObject("counts");
        Map<EntryState, Long> c = new java.util.EnumMap<>(EntryState.class);
        for (EntryState s : EntryState.values()) {
            c.put(s, 0L);
        }
        for (QueueEntry e : all) {
            c.merge(e.state(), 1L, Long::sum);
        }
        c.forEach((s, n) -> {
            if (s != EntryState.DELIVERED) {
                counts.put(s.word(), n);
            }
        });
        out.put("total", all.size());
        out.put("depth", depth(c));
        Optional<QueueEntry> oldest = all.stream().min(Comparator.comparing(QueueEntry::queuedAt));
        if (oldest.isPresent()) {
            ObjectNode o = out.putObject("oldest");
            o.put("id", oldest.get().id().value());
            o.put("state", oldest.get().state().word());
            o.put("age", Duration.between(oldest.get().queuedAt(), now).getSeconds());
        } else {
            out.putNull("oldest");
        }
        out.set("histogram", histogram(all, now));
        throughput(out, now);
        out.set("links", ControlJson.MAPPER.valueToTree(links()));
        return ControlReply.ok(out);
    }

    /** Entries the forwarder still has to move: what a drain empties. */
    static long depth(Map<EntryState, Long> c) {
        return c.getOrDefault(EntryState.QUEUED, 0L) + c.getOrDefault(EntryState.DEFERRED, 0L)
                + c.getOrDefault(EntryState.SENDING, 0L);
    }

    /**
     * Entries by state and by age bucket, plus the busiest recipient domains counted by pending
     * recipient, like Postfix's qshape; the first count of each row is its total.
     */
    private static ObjectNode histogram(List<QueueEntry> all, Instant now) {
        ObjectNode h = ControlJson.MAPPER.createObjectNode();
        ArrayNode labels = h.putArray("buckets");
        for (int m : BUCKET_MINUTES) {
            labels.add(m + "m");
        }
        labels.add(BUCKET_MINUTES[BUCKET_MINUTES.length - 1] + "m+");
        Map<String, long[]> byState = new LinkedHashMap<>();
        long[] total = new long[BUCKET_MINUTES.length + 1];
        Map<String, long[]> byDomain = new HashMap<>();
        for (QueueEntry e : all) {
            int b = bucket(Duration.between(e.queuedAt(), now));
            byState.computeIfAbsent(e.state().word(), k -> new long[BUCKET_MINUTES.length + 1])[b]++;
            total[b]++;
            for (String r : e.pendingRecipients()) {
                String domain = lower(r.substring(r.lastIndexOf('@') + 1));
                byDomain.computeIfAbsent(domain, k -> new long[BUCKET_MINUTES.length + 1])[b]++;
            }
        }
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

    private void throughput(ObjectNode out, Instant now) {
        StatusSource.Throughput t = status.throughput(now);
        out.put("accepted_last_minute", t.acceptedLastMinute());
        out.put("accepted_last_hour", t.acceptedLastHour());
        out.put("delivered_last_minute", t.deliveredLastMinute());
        out.put("delivered_last_hour", t.deliveredLastHour());
    }

    private List<Map<String, Object>> links() {
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

    private ControlReply status() {
        Instant now = clock.instant();
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("up", true);
        out.put("pid", ProcessHandle.current().pid());
        out.put("started_at", status.startedAt().toString());
        out.put("uptime", Duration.between(status.startedAt(), now).getSeconds());
        out.set("listeners", ControlJson.MAPPER.valueToTree(status.listeners()));
        out.put("queue_healthy", queue.healthy());
        Map<EntryState, Long> c = queue.counts();
        out.put("depth", depth(c));
        ObjectNode counts = out.putObject("counts");
        c.forEach((s, n) -> {
            if (s != EntryState.DELIVERED) {
                counts.put(s.word(), n);
            }
        });
        throughput(out, now);
        out.set("links", ControlJson.MAPPER.valueToTree(links()));
        return ControlReply.ok(out);
    }

    private ControlReply upstreamTest() throws InterruptedException {
        if (tester == null) {
            return ControlReply.error(ControlReply.NOT_AVAILABLE, "this daemon has no upstream test wired in");
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        List<UpstreamTester.Probe> probes = tester.probeAll();
        // The operator is looking at it now: a backoff of a refused login or certificate is
        // cleared and the forwarder probes at once (after the fix, mail moves without a wait).
        onRetry.run();
        out.set("upstreams", ControlJson.MAPPER.valueToTree(probes));
        out.put("all_ok", probes.stream().allMatch(UpstreamTester.Probe::ok));
        return ControlReply.ok(out);
    }

    private ControlReply configShow() {
        if (effectiveConfig == null) {
            return ControlReply.error(ControlReply.NOT_AVAILABLE, "the effective configuration is not available");
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("config", effectiveConfig.get());
        return ControlReply.ok(out);
    }

    private static ControlReply notFound(QueueId id) {
        return ControlReply.error(ControlReply.NOT_FOUND, "no entry " + id + " in the queue");
    }

    private static QueueId id(String text) throws BadRequest {
        try {
            return QueueId.parse(text);
        } catch (IllegalArgumentException e) {
            throw new BadRequest(e.getMessage());
        }
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    @Override
    public void close() {
        bulk.shutdownNow();
    }

    /** The request itself is wrong; the caller gets {@code bad_request} and exit code 2. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }
}
