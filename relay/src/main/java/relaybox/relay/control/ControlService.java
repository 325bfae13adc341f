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
import relaybox.queue.QueueFilter;
import relaybox.queue.QueueId;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.control.api.ControlError;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.log.MailEvents;

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
import java.util.function.Supplier;

/**
 * Owns the meaning of every control request: turns one JSON request into one {@link ControlReply}
 * by reading or steering the {@link Queue} and reading the {@link StatusSource}. It does not own
 * the socket (that is {@link ControlServer}) and never opens the store itself, so the same service
 * answers over the daemon's socket and, in offline mode, inside the CLI over a store the CLI
 * opened while the daemon was stopped.
 *
 * <h2>Requests</h2>
 * Every request is a {@link ControlRequest} (on the wire an object with {@code "op"}):
 * <pre>
 * list          state (comma list of state words), older_than ("2h"), sender, recipient (substrings),
 *               after (an id: the page starts after it), limit; streamed: one entry per line,
 *               then a trailer with count, bytes, last (id) and more (true if the limit cut it)
 * show          id                 → entry, text (readable record), headers
 * raw           id                 → the stored message as sent, streamed after the JSON line
 * delete        ids | all | failed
 * hold          ids | all          (all: queued, deferred, failed); per id "already" when it
 *                                  is in the wanted state (also release, retry): not an error
 * release       ids | all          (all: held)
 * retry         ids | all          (all: queued, deferred; makes them due now; with
 *                                   summary, the reply counts them instead of listing them)
 * requeue       ids | failed       (failed recipients get a new life)
 * purge         failed [older_than]  deletes failed entries (all, or those queued before older_than)
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
    private final MailEvents mailLog;
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
                          MailEvents mailLog, Clock clock) {
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

    /** Answers one request as it came off the socket; {@code peer} names the caller for the audit line ("uid 0"). */
    public ControlReply handle(JsonNode request, String peer) {
        ControlRequest typed;
        try {
            typed = ControlRequest.fromJson(request);
        } catch (ControlRequest.Invalid e) {
            return ControlReply.error(ControlError.BAD_REQUEST, e.getMessage());
        }
        return handle(typed, peer);
    }

    /** Answers one request; {@code peer} names the caller for the audit line ("uid 0"). */
    public ControlReply handle(ControlRequest request, String peer) {
        Op op = request.op();
        try {
            return switch (op) {
                case LIST -> list((ControlRequest.ListEntries) request);
                case SHOW -> show((ControlRequest.Show) request);
                case RAW -> raw((ControlRequest.Show) request);
                case DELETE, HOLD, RELEASE, RETRY, REQUEUE -> act((ControlRequest.Act) request, peer);
                case PURGE -> purge((ControlRequest.Purge) request, peer);
                case STATS -> stats();
                case STATUS -> status();
                case UPSTREAM_TEST -> upstreamTest();
                case CONFIG_SHOW -> configShow();
            };
        } catch (BadRequest e) {
            return ControlReply.error(ControlError.BAD_REQUEST, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ControlReply.error(ControlError.INTERNAL, "interrupted");
        } catch (RuntimeException e) {
            // A bug must not take the control socket down with it; the caller sees the error.
            LOG.error("control request {} failed", op.word(), e);
            return ControlReply.error(ControlError.INTERNAL, op.word() + ": " + e);
        }
    }

    private ControlReply list(ControlRequest.ListEntries req) throws BadRequest {
        Instant now = clock.instant();
        QueueFilter filter = filter(req.filter(), now);
        long limit = req.limit();
        if (limit < 0) {
            throw new BadRequest("limit: expected a positive number (got " + limit + ")");
        }
        String after = req.after();
        QueueFilter page = (after.isBlank() ? filter : filter.withAfter(id(after)))
                .withLimit(limit == 0 ? 0 : limit + 1);
        StatusSource.Link blocked = blocking(status.links());
        return ControlReply.stream(ControlJson.MAPPER.createObjectNode(), visitor -> {
            long[] n = {0, 0};
            String[] last = {null};
            boolean[] more = {false};
            IOException[] failed = {null};
            queue.scan(page, e -> {
                if (limit > 0 && n[0] == limit) {
                    // One past the page: there is more to list.
                    more[0] = true;
                    return false;
                }
                n[0]++;
                n[1] += e.messageSize();
                last[0] = e.id().value();
                try {
                    return visitor.row(ControlJson.MAPPER.valueToTree(ControlJson.EntryView.of(e, now).waitingFor(blocked)));
                } catch (IOException ex) {
                    failed[0] = ex;
                    return false;
                }
            });
            if (failed[0] != null) {
                throw failed[0];
            }
            ObjectNode trailer = ControlJson.MAPPER.createObjectNode();
            trailer.put("count", n[0]);
            trailer.put("bytes", n[1]);
            trailer.put("last", last[0]);
            trailer.put("more", more[0]);
            return trailer;
        });
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

    static QueueFilter filter(ControlRequest.Filter req, Instant now) throws BadRequest {
        QueueFilter f = QueueFilter.ALL;
        if (!req.states().isEmpty()) {
            Set<EntryState> wanted = EnumSet.noneOf(EntryState.class);
            for (String s : req.states()) {
                wanted.add(state(s));
            }
            f = f.withStates(wanted);
        }
        String older = req.olderThan();
        if (!older.isBlank()) {
            Duration d = ConfigReader.parseDuration(older)
                    .orElseThrow(() -> new BadRequest("older-than: expected a duration like 30m, 2h or 5d (got \""
                            + older + "\")"));
            f = f.withQueuedBefore(now.minus(d));
        }
        return f.withSender(req.sender()).withRecipient(req.recipient());
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

    private ControlReply show(ControlRequest.Show req) throws BadRequest {
        QueueId id = id(req.id());
        Optional<QueueEntry> e = queue.get(id);
        if (e.isEmpty()) {
            return notFound(id);
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.set("entry", ControlJson.MAPPER.valueToTree(ControlJson.EntryView.of(e.get(), clock.instant())
                .waitingFor(blocking(status.links()))));
        out.put("text", queue.describe(id).orElse(""));
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

    private ControlReply raw(ControlRequest.Show req) throws BadRequest {
        QueueId id = id(req.id());
        if (queue.get(id).isEmpty()) {
            return notFound(id);
        }
        try {
            ObjectNode out = ControlJson.MAPPER.createObjectNode();
            out.put("ok", true);
            out.put("id", id.value());
            return new ControlReply(out, queue.openMessage(id));
        } catch (IOException e) {
            return ControlReply.error(ControlError.NOT_AVAILABLE, "message of " + id + " cannot be read: " + e.getMessage());
        }
    }

    private ControlReply act(ControlRequest.Act req, String peer) throws BadRequest, InterruptedException {
        String op = req.op().word();
        boolean all = req.all();
        boolean failed = req.failed();
        List<QueueId> ids = new ArrayList<>();
        for (String n : req.ids()) {
            ids.add(id(n));
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
            return flush(peer, req.summary());
        }
        if (!ids.isEmpty() && ids.size() != ids.stream().distinct().count()) {
            ids = ids.stream().distinct().toList();
        }
        ArrayNode rows = ControlJson.MAPPER.createArrayNode();
        Map<String, Integer> totals = new LinkedHashMap<>();
        totals.put("done", 0);
        totals.put("not_found", 0);
        totals.put("not_applicable", 0);
        totals.put("already", 0);
        totals.put("error", 0);
        long selected;
        if (!ids.isEmpty()) {
            applyAll(op, ids, rows, totals);
            selected = ids.size();
        } else {
            // What each action may apply to is QueueEntry's transition table; delete takes any entry.
            QueueFilter selection = failed ? QueueFilter.states(EntryState.FAILED) : switch (op) {
                case "hold" -> QueueFilter.allowing(QueueEntry.Event.HELD);
                case "release" -> QueueFilter.allowing(QueueEntry.Event.RELEASED);
                case "retry" -> QueueFilter.allowing(QueueEntry.Event.RETRIED_NOW);
                default -> QueueFilter.ALL;
            };
            selected = applyPaged(op, selection, rows, totals);
        }
        LOG.info("control {} by {}: {} selected, {}", op, peer, selected, totals);
        if (op.equals("retry")) {
            onRetry.run();
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("action", op);
        out.set("results", rows);
        if (selected > MAX_ROWS) {
            // Too many for a row each: the reply counts them, as with summary.
            out.put("selected", selected);
        }
        totals.forEach(out::put);
        return ControlReply.ok(out);
    }

    /** Replies to bulk actions list each entry up to this many; beyond, they count only. */
    static final int MAX_ROWS = 10_000;
    /** Bulk actions select and apply this many entries at a time: memory stays one page deep. */
    private static final int PAGE = 1_000;

    /**
     * Applies {@code op} to every entry {@code filter} selects, a page at a time in id order, each
     * page's entries concurrently (so they share the queue's group commits). Returns how many.
     */
    private long applyPaged(String op, QueueFilter filter, ArrayNode rows, Map<String, Integer> totals)
            throws InterruptedException {
        long selected = 0;
        QueueId after = null;
        while (true) {
            List<QueueId> page = new ArrayList<>(PAGE);
            queue.scan(filter.withAfter(after).withLimit(PAGE), e -> page.add(e.id()));
            if (page.isEmpty()) {
                return selected;
            }
            selected += page.size();
            if (selected > MAX_ROWS) {
                rows.removeAll();
            }
            applyAll(op, page, selected > MAX_ROWS ? null : rows, totals);
            after = page.get(page.size() - 1);
        }
    }

    private void applyAll(String op, List<QueueId> ids, ArrayNode rows, Map<String, Integer> totals)
            throws InterruptedException {
        List<Future<String>> results = new ArrayList<>(ids.size());
        for (QueueId id : ids) {
            results.add(bulk.submit(() -> apply(op, id)));
        }
        for (int i = 0; i < ids.size(); i++) {
            String result;
            try {
                result = results.get(i).get();
            } catch (ExecutionException e) {
                result = "error: " + e.getCause();
            }
            String word = result.startsWith("error") ? "error" : result;
            totals.merge(word, 1, Integer::sum);
            if (rows != null) {
                ObjectNode row = rows.addObject();
                row.put("id", ids.get(i).value());
                row.put("result", word);
                if (result.startsWith("error")) {
                    row.put("message", result.substring("error: ".length()));
                }
            }
        }
    }

    /**
     * Deletes failed entries, all of them or those queued before {@code older_than}: what the
     * retention sweep does on its own after {@code queue_failed_retention}. Each gets a mail-log
     * line; the reply counts them.
     */
    private ControlReply purge(ControlRequest.Purge req, String peer) throws BadRequest, InterruptedException {
        if (!req.failed()) {
            throw new BadRequest("purge: only failed entries are purged; give failed");
        }
        QueueFilter f = filter(req.filter(), clock.instant()).withStates(EnumSet.of(EntryState.FAILED));
        String older = req.filter().olderThan();
        long n = purgeFailed(f, "purged by " + peer + (older.isBlank() ? "" : " (failed, older than " + older + ")"));
        LOG.info("control purge by {}: {} failed entries purged", peer, n);
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("action", "purge");
        out.put("purged", n);
        return ControlReply.ok(out);
    }

    /**
     * Deletes every FAILED entry queued before {@code cutoff}, logging each with {@code reason};
     * the daemon's retention sweep. Returns how many went. Pages through the failed entries, so
     * it runs in bounded memory however many there are.
     */
    public long purgeFailed(Instant cutoff, String reason) throws InterruptedException {
        return purgeFailed(QueueFilter.ALL.withStates(EnumSet.of(EntryState.FAILED)).withQueuedBefore(cutoff), reason);
    }

    private long purgeFailed(QueueFilter f, String reason) throws InterruptedException {
        long n = 0;
        QueueId after = null;
        while (true) {
            List<QueueId> page = new ArrayList<>(PAGE);
            queue.scan(f.withAfter(after).withLimit(PAGE), e -> page.add(e.id()));
            if (page.isEmpty()) {
                return n;
            }
            after = page.get(page.size() - 1);
            List<Future<Queue.ActionResult>> results = new ArrayList<>(page.size());
            for (QueueId id : page) {
                results.add(bulk.submit(() -> queue.delete(id)));
            }
            for (int i = 0; i < page.size(); i++) {
                try {
                    if (results.get(i).get() == Queue.ActionResult.DONE) {
                        mailLog.purged(page.get(i), reason);
                        n++;
                    }
                } catch (ExecutionException e) {
                    LOG.warn("{} not purged: {}", page.get(i), e.getCause().toString());
                }
            }
        }
    }

    /**
     * "retry --all", relaybox's {@code postqueue -f}: down upstreams are probed first, so sending
     * can start at once, then every queued and deferred entry is made due in one pass over the
     * queue. The per-entry path (a durable write each) took 2.3 s over 10,000 entries and held the
     * CPU the drain needed; a lost "due now" costs nothing, the entry keeps its old schedule.
     */
    private ControlReply flush(String peer, boolean summary) {
        onRetry.run();
        Map<EntryState, Long> c = queue.counts();
        long waiting = c.get(EntryState.QUEUED) + c.get(EntryState.DEFERRED);
        int moved = queue.retryAll(clock.instant());
        LOG.info("control retry by {}: {} queued or deferred, all due now ({} were waiting for a retry time)",
                peer, waiting, moved);
        ArrayNode rows = ControlJson.MAPPER.createArrayNode();
        boolean count = summary || waiting > MAX_ROWS;
        if (!count) {
            queue.scan(QueueFilter.allowing(QueueEntry.Event.RETRIED_NOW), e -> {
                rows.addObject().put("id", e.id().value()).put("result", "done");
                return true;
            });
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("action", "retry");
        out.set("results", rows);
        if (count) {
            out.put("selected", waiting);
        }
        out.put("done", count ? waiting : rows.size());
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
        out.set("histogram", histogram(now));
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
            return ControlReply.error(ControlError.NOT_AVAILABLE, "this daemon has no upstream test wired in");
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
            return ControlReply.error(ControlError.NOT_AVAILABLE, "the effective configuration is not available");
        }
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("config", effectiveConfig.get());
        return ControlReply.ok(out);
    }

    private static ControlReply notFound(QueueId id) {
        return ControlReply.error(ControlError.NOT_FOUND, "no entry " + id + " in the queue");
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
