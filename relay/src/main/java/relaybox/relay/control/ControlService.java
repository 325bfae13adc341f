package relaybox.relay.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.forward.UpstreamTester;
import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueId;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.control.api.ControlError;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.log.MailEvents;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
 * stats         [histogram]          counts, oldest, throughput, links, and unless histogram is
 *                                   false the age histogram (qshape buckets; walks every entry)
 * status        listeners, depth, queue health, cross-check after an unclean stop, links
 * upstream-test probes each upstream without sending mail
 * config-show   the effective configuration, secrets masked, as the daemon rendered it
 * upstream-pause  upstream, for ("2h"; absent: until resumed) → links after the change
 * upstream-resume upstream                                  → links after the change
 * </pre>
 * The queue's requests are answered by {@link QueueReads} (list, show, raw), {@link QueueActions}
 * (delete, hold, release, retry, requeue, purge) and {@link QueueStats} (stats); this class
 * dispatches, and answers status, upstream-test, upstream-pause/resume and config-show itself.
 *
 * <h2>Thread safety</h2>
 * Requests may run concurrently; the queue serialises its own transitions. Bulk actions run on a
 * small pool so that many admin transitions share the queue's group commits.
 */
public final class ControlService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);

    private final Queue queue;
    private final StatusSource status;
    private final UpstreamTester tester;
    private final Supplier<String> effectiveConfig;
    private final Clock clock;
    private final QueueReads reads;
    private final QueueActions actions;
    private final QueueStats stats;
    /** What "retry" asks of the forwarder besides making entries due: probe down upstreams now. */
    private volatile Runnable onRetry = () -> { };
    /** Pauses and resumes upstreams; null when no forwarder is wired in (offline mode). */
    private volatile UpstreamPauses pauses;

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
        this.clock = clock;
        this.reads = new QueueReads(queue, status, clock);
        this.actions = new QueueActions(queue, mailLog, clock, () -> onRetry.run());
        this.stats = new QueueStats(queue, status, clock);
    }

    /**
     * Called after a retry request: the daemon wires the dispatcher's immediate probe here, so
     * that "queue retry" after an outage sends now, not at the next probe interval (as
     * {@code postqueue -f} does for Postfix).
     */
    public void onRetry(Runnable r) {
        this.onRetry = r;
    }

    /** Where {@code upstream-pause} and {@code upstream-resume} go: the daemon wires its dispatcher here. */
    public void pauses(UpstreamPauses p) {
        this.pauses = p;
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
                case LIST -> reads.list((ControlRequest.ListEntries) request);
                case SHOW -> reads.show((ControlRequest.Show) request);
                case RAW -> reads.raw((ControlRequest.Show) request);
                case DELETE, HOLD, RELEASE, RETRY, REQUEUE -> actions.act((ControlRequest.Act) request, peer);
                case PURGE -> actions.purge((ControlRequest.Purge) request, peer);
                case STATS -> stats.stats(((ControlRequest.Stats) request).histogram());
                case STATUS -> status();
                case UPSTREAM_TEST -> upstreamTest();
                case CONFIG_SHOW -> configShow();
                case UPSTREAM_PAUSE, UPSTREAM_RESUME -> pause((ControlRequest.UpstreamPause) request, peer);
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

    /**
     * Deletes every FAILED entry queued before {@code cutoff}, logging each with {@code reason};
     * the daemon's retention sweep. Returns how many went.
     */
    public long purgeFailed(Instant cutoff, String reason) throws InterruptedException {
        return actions.purgeFailed(cutoff, reason);
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
        out.set("cross_check", ControlJson.MAPPER.valueToTree(
                ControlJson.CrossCheckView.of(queue.crossCheckProgress(), now)));
        Map<EntryState, Long> c = queue.counts();
        out.put("depth", QueueStats.depth(c));
        ObjectNode counts = out.putObject("counts");
        c.forEach((s, n) -> {
            if (s != EntryState.DELIVERED) {
                counts.put(s.word(), n);
            }
        });
        stats.throughput(out, now);
        out.set("links", ControlJson.MAPPER.valueToTree(stats.links()));
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

    /**
     * Pauses or resumes one upstream; the reply carries its status row after the change. Logged
     * with the caller, like every other operator action.
     */
    private ControlReply pause(ControlRequest.UpstreamPause req, String peer) throws BadRequest {
        UpstreamPauses p = pauses;
        if (p == null) {
            return ControlReply.error(ControlError.NOT_AVAILABLE, "upstreams are paused and resumed in the running daemon");
        }
        if (req.upstream().isBlank()) {
            throw new BadRequest(req.op().word() + ": give the upstream's name");
        }
        Duration length = null;
        if (!req.resume() && !req.length().isBlank()) {
            length = ConfigReader.parseDuration(req.length()).filter(d -> !d.isZero() && !d.isNegative())
                    .orElseThrow(() -> new BadRequest("for: expected a duration like 30m, 2h or 1d (got \""
                            + req.length() + "\")"));
        }
        boolean found = req.resume() ? p.resume(req.upstream(), peer) : p.pause(req.upstream(), length, peer);
        if (!found) {
            return ControlReply.error(ControlError.NOT_FOUND, "no upstream named \"" + req.upstream() + "\" (configured: "
                    + String.join(", ", status.links().stream().map(StatusSource.Link::upstream).toList()) + ")");
        }
        LOG.info("control {} {} by {}{}", req.op().word(), req.upstream(), peer,
                length == null ? "" : " for " + req.length());
        ObjectNode out = ControlJson.MAPPER.createObjectNode();
        out.put("action", req.resume() ? "resume" : "pause");
        out.set("links", ControlJson.MAPPER.valueToTree(stats.links()));
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

    static ControlReply notFound(QueueId id) {
        return ControlReply.error(ControlError.NOT_FOUND, "no entry " + id + " in the queue");
    }

    static QueueId id(String text) throws BadRequest {
        try {
            return QueueId.parse(text);
        } catch (IllegalArgumentException e) {
            throw new BadRequest(e.getMessage());
        }
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    @Override
    public void close() {
        actions.close();
    }

    /** The request itself is wrong; the caller gets {@code bad_request} and exit code 2. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }}
