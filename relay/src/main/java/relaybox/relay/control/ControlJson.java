package relaybox.relay.control;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import relaybox.queue.CrossCheckProgress;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.RecipientState;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * The control API's wire vocabulary: the JSON mapper and the views of queue entries. Field names
 * are lower_snake and match the mail log keys ({@code id, state, from, to, size, attempts, next,
 * reply}), because operators grep both; they are part of the CLI's {@code --json} contract, so
 * renaming one is a breaking change.
 */
public final class ControlJson {

    /** Requests and replies; unknown fields are ignored so a newer CLI can talk to an older daemon. */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.FAIL_ON_EMPTY_BEANS, false);

    private ControlJson() {
    }

    /**
     * One entry as {@code queue list} and {@code queue show} present it.
     *
     * @param id         queue id
     * @param state      entry state word (queued, deferred, ...)
     * @param queuedAt   ISO-8601 time the intake accepted it
     * @param age        seconds since queuedAt
     * @param size       message bytes as sent
     * @param attempts   delivery attempts so far
     * @param next       ISO-8601 time of the next attempt, or null when none is scheduled (held,
     *                   failed, quarantined, sending)
     * @param from       envelope sender ("" is the null sender)
     * @param to         recipients still pending
     * @param reply      the last upstream reply or local reason, "" before any attempt
     * @param recipients every recipient with its status
     */
    public record EntryView(String id, String state, String queuedAt, long age, long size, int attempts,
                            String next, String from, List<String> to, String reply,
                            List<RecipientView> recipients) {

        public static EntryView of(QueueEntry e, Instant now) {
            boolean scheduled = e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED;
            return new EntryView(e.id().value(), e.state().word(), e.queuedAt().toString(),
                    Math.max(0, Duration.between(e.queuedAt(), now).getSeconds()), e.messageSize(), e.attempts(),
                    scheduled ? e.nextAttemptAt().toString() : null, e.envelope().sender(), e.pendingRecipients(),
                    e.lastReply(), e.recipients().stream().map(RecipientView::of).toList());
        }

        /**
         * This view while every upstream is down ({@code link}, or null for no change): a waiting
         * entry is tried at the link's next probe, not before, and waits for the link's reason.
         */
        public EntryView waitingFor(StatusSource.Link link) {
            if (link == null || next == null) {
                return this;
            }
            String when = link.nextAttempt() == null || Instant.parse(next).isAfter(link.nextAttempt()) ? next
                    : link.nextAttempt().toString();
            String why = link.detail().isEmpty() ? reply : link.detail();
            return new EntryView(id, state, queuedAt, age, size, attempts, when, from, to, why, recipients);
        }
    }

    /**
     * The queue's cross-check after an unclean stop, as {@code relaybox status} shows it: while it
     * runs mail flows, but no spool segment is reclaimed.
     *
     * @param phase              none, rescue, audit, done or failed
     * @param segmentsScanned    spool segments read by the rescue phase, of {@code segments}
     * @param entriesAudited     index entries the audit has walked
     * @param entriesRescued     entries the index had lost, queued again from the spool
     * @param repairs            index keys put back or taken out, counts recounted
     * @param rangesQuarantined  damaged spool ranges quarantined
     * @param startedAt          ISO-8601, or null when none ran
     * @param finishedAt         ISO-8601, or null while it runs
     * @param seconds            how long it has run, or ran
     * @param failure            why it failed; "" otherwise
     */
    public record CrossCheckView(String phase, int segmentsScanned, int segments, long entriesAudited,
                                 long entriesRescued, long repairs, long rangesQuarantined, String startedAt,
                                 String finishedAt, long seconds, String failure) {

        public static CrossCheckView of(CrossCheckProgress p, Instant now) {
            return new CrossCheckView(p.phase().word(), p.segmentsScanned(), p.segments(), p.entriesAudited(),
                    p.entriesRescued(), p.repairs(), p.rangesQuarantined(),
                    p.startedAt() == null ? null : p.startedAt().toString(),
                    p.finishedAt() == null ? null : p.finishedAt().toString(), p.elapsed(now).getSeconds(),
                    p.failure());
        }
    }

    /** @param status pending, delivered or failed */
    public record RecipientView(String address, String status, int attempts, String reply) {
        static RecipientView of(RecipientState r) {
            return new RecipientView(r.address(), r.status().name().toLowerCase(Locale.ROOT), r.attempts(),
                    r.lastReply());
        }
    }
}
