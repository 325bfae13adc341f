package relaybox.relay.log;

import relaybox.queue.QueueId;
import relaybox.relay.dkim.MessageSigner.SignedBy;

import java.time.Duration;
import java.util.List;

/**
 * Owns the list of mail events: what happened to a message, or at the intake, in the project's
 * words, each with its facts as data. The stages report each event once; the listeners ({@link
 * MailLog} writes the line, the metrics count it, the daemon's status keeps its throughput) each
 * take what they need, none of them built on another. Listeners must not block or throw.
 *
 * <p>Every method does nothing by default, so a listener names only the events it counts.
 */
public interface MailEvents {

    /** An SMTP client's message is durable and answered 250; {@code dkim} lists who signed it. */
    default void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                        List<SignedBy> dkim) {
    }

    /** A message from the drop directory (written there by sendmail) is queued. */
    default void pickedUp(QueueId id, String from, int nrcpt, long size, int uid, String file, List<SignedBy> dkim) {
    }

    /** A drop file that cannot be queued was moved to .bad; {@code from} may be empty. */
    default void pickupRejected(String file, int uid, String from, String reason) {
    }

    /** A refusal at intake, for {@code why}; {@code to} may be empty when it came before RCPT. */
    default void rejected(String from, String to, String client, Refusal why, String reply) {
    }

    default void delivered(QueueId id, String to, String upstream, int attempt, Duration delay, String delays,
                           String reply) {
    }

    default void deferred(QueueId id, String to, String upstream, int attempt, String next, String stage,
                          String reply) {
    }

    default void failed(QueueId id, String to, String upstream, int attempt, String stage, String reply) {
    }

    /** An upstream's circuit opened; reported once per outage. */
    default void upstreamDown(String name, String upstream, String reason) {
    }

    /** A probe reached a down upstream again; {@code retried} queued entries were made due at once. */
    default void upstreamUp(String name, String upstream, int retried) {
    }

    /**
     * An upstream was paused: by an operator, or by its own reply (a used-up quota, sender
     * throttling); {@code until} is "-" when only an operator's resume ends it. Once per pause.
     */
    default void upstreamPaused(String name, String cause, String until, String reason) {
    }

    /** A pause ended, {@code by} an operator or by its expiry; {@code retried} entries were made due. */
    default void upstreamResumed(String name, String by, int retried) {
    }

    default void dsnQueued(QueueId id, QueueId dsn, String to) {
    }

    default void dsnSkipped(QueueId id, String reason) {
    }

    /** One of {@link MailLog#QUEUE_EVENTS}. */
    default void queueEvent(QueueId id, String event) {
    }

    default void purged(QueueId id, String reason) {
    }

    default void quarantined(String id, String reason) {
    }

    /** Reports every event to each of {@code listeners}, in order. */
    static MailEvents all(MailEvents... listeners) {
        return new AllListeners(List.of(listeners));
    }
}
