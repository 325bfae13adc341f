package relaybox.relay.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueFilter;
import relaybox.queue.QueueId;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.control.ControlService.BadRequest;
import relaybox.relay.control.api.ControlError;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static relaybox.relay.control.ControlService.id;
import static relaybox.relay.control.ControlService.lower;
import static relaybox.relay.control.ControlService.notFound;

/**
 * Owns the read-only queue requests of the control API: {@code list} (streamed, paged, filtered),
 * {@code show} (the entry, its record as text, its headers) and {@code raw} (the message bytes),
 * and how a request's filter becomes a {@link QueueFilter}. It changes nothing.
 */
final class QueueReads {

    private static final int HEADER_LIMIT = 64 * 1024;

    private final Queue queue;
    private final StatusSource status;
    private final Clock clock;

    QueueReads(Queue queue, StatusSource status, Clock clock) {
        this.queue = queue;
        this.status = status;
        this.clock = clock;
    }

    ControlReply list(ControlRequest.ListEntries req) throws BadRequest {
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

    ControlReply show(ControlRequest.Show req) throws BadRequest {
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

    ControlReply raw(ControlRequest.Show req) throws BadRequest {
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
}
