package relaybox.relay.metrics;

import relaybox.queue.QueueId;
import relaybox.relay.log.MailLog;

/**
 * A {@link MailLog} that also counts the events the intake and the forwarder already log, so
 * those need no metrics call of their own: queued (accepted, bytes in, DKIM signature made),
 * rejected (refused, by reason) and upstream down/up (link state). Everything else (intake and
 * end-to-end latency, per-message outcomes, sessions) is reported by the stages through
 * {@link RelayMetrics} directly. Owns no formatting: every line is still written by MailLog.
 *
 * <p>Use it as the daemon's MailLog (the daemon's status class may extend it). A stage that
 * logs through it must not also call {@link RelayMetrics#accepted}, {@link RelayMetrics#refused},
 * {@link RelayMetrics#dkimSigned} or {@link RelayMetrics#linkState} for the same event.
 */
public class MetricsMailLog extends MailLog {

    private final RelayMetrics metrics;

    public MetricsMailLog(RelayMetrics metrics) {
        this.metrics = metrics;
    }

    public MetricsMailLog(RelayMetrics metrics, Sink sink) {
        super(sink);
        this.metrics = metrics;
    }

    @Override
    public void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                       String dkim) {
        metrics.accepted(size);
        if (dkim != null && !dkim.isEmpty()) {
            int slash = dkim.indexOf('/');
            metrics.dkimSigned(slash < 0 ? dkim : dkim.substring(0, slash));
        }
        super.queued(id, from, nrcpt, size, client, helo, tls, dkim);
    }

    @Override
    public void rejected(String from, String to, String client, String reply) {
        metrics.refused(RelayMetrics.refusalReason(reply));
        super.rejected(from, to, client, reply);
    }

    @Override
    public void upstreamDown(String name, String upstream, String reason) {
        metrics.linkState(name, LinkState.DOWN);
        super.upstreamDown(name, upstream, reason);
    }

    @Override
    public void upstreamUp(String name, String upstream, int retried) {
        metrics.linkState(name, LinkState.UP);
        super.upstreamUp(name, upstream, retried);
    }
}
