package relaybox.relay.metrics;

import relaybox.queue.QueueId;
import relaybox.relay.dkim.MessageSigner.SignedBy;
import relaybox.relay.log.MailEvents;
import relaybox.relay.log.Refusal;

import java.util.List;

/**
 * Counts the intake's mail events in the metrics: queued (accepted, bytes in, DKIM signature
 * made) and rejected (refused, by the reason the intake gave). One listener of {@link MailEvents}
 * beside the mail log; everything else (latencies, per-message outcomes, sessions, link state) the
 * stages report through {@link RelayMetrics} directly, so a stage that reports an event here must
 * not also call {@link RelayMetrics#accepted}, {@link RelayMetrics#refused} or
 * {@link RelayMetrics#dkimSigned} for it.
 */
public final class MailMetrics implements MailEvents {

    private final RelayMetrics metrics;

    public MailMetrics(RelayMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                       List<SignedBy> dkim) {
        metrics.accepted(size);
        if (!dkim.isEmpty()) {
            // One count per message, by the domain of its first signature.
            metrics.dkimSigned(dkim.get(0).domain());
        }
    }

    @Override
    public void rejected(String from, String to, String client, Refusal why, String reply) {
        metrics.refused(why.label());
    }
}
