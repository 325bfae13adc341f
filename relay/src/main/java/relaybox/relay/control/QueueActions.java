package relaybox.relay.control;

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
import relaybox.relay.control.ControlService.BadRequest;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.log.MailEvents;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static relaybox.relay.control.ControlService.id;

/**
 * Owns the control API's actions on entries: delete, hold, release, retry, requeue (by id, all,
 * or failed), purge of failed entries, and "retry all" ({@code postqueue -f}). What each action
 * may apply to is {@code QueueEntry}'s transition table; this class selects, applies (a page at a
 * time, concurrently, so the actions share the queue's group commits), logs each done action to
 * the mail log and counts the results.
 */
final class QueueActions implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(QueueActions.class);

    private final Queue queue;
    private final MailEvents mailLog;
    private final Clock clock;
    /** What "retry" asks of the forwarder besides making entries due: probe down upstreams now. */
    private final Runnable onRetry;
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


    QueueActions(Queue queue, MailEvents mailLog, Clock clock, Runnable onRetry) {
        this.queue = queue;
        this.mailLog = mailLog;
        this.clock = clock;
        this.onRetry = onRetry;
    }

    ControlReply act(ControlRequest.Act req, String peer) throws BadRequest, InterruptedException {
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
    ControlReply purge(ControlRequest.Purge req, String peer) throws BadRequest, InterruptedException {
        if (!req.failed()) {
            throw new BadRequest("purge: only failed entries are purged; give failed");
        }
        QueueFilter f = QueueReads.filter(req.filter(), clock.instant()).withStates(EnumSet.of(EntryState.FAILED));
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

    @Override
    public void close() {
        bulk.shutdownNow();
    }
}
