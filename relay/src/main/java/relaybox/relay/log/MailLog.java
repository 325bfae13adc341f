package relaybox.relay.log;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueId;
import relaybox.relay.dkim.MessageSigner.SignedBy;

import java.time.Duration;
import java.util.List;

/**
 * Owns the mail log: the only place that formats mail-event lines. One line per event on the
 * logger {@value #LOGGER}, queue id first ("-" before there is one), then stage and event, then
 * key=value pairs in a fixed order, identity before performance, and last the upstream's or our
 * literal reply, because that is what operators paste into support tickets. Values that may hold
 * spaces are quoted. Operators parse these lines: {@code MailLogTest} pins their exact text.
 * It is one listener of the {@link MailEvents}; it counts nothing.
 */
public final class MailLog implements MailEvents {

    public static final String LOGGER = "relaybox.mail";
    private static final Logger LOG = LoggerFactory.getLogger(LOGGER);

    /** Where lines go; tests substitute a collector. */
    public interface Sink {
        void line(String line);
    }

    private final Sink sink;

    public MailLog() {
        this(LOG::info);
    }

    public MailLog(Sink sink) {
        this.sink = sink;
    }

    @Override
    public void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                       List<SignedBy> dkim) {
        emit(id + " intake queued from=<" + from + "> nrcpt=" + nrcpt + " size=" + size + " client=" + client
                + " helo=" + quote(helo) + " tls=" + dash(tls) + " dkim=" + dash(dkim(dkim)));
    }

    @Override
    public void pickedUp(QueueId id, String from, int nrcpt, long size, int uid, String file, List<SignedBy> dkim) {
        emit(id + " pickup queued from=<" + from + "> nrcpt=" + nrcpt + " size=" + size + " uid=" + uid
                + " file=" + file + " dkim=" + dash(dkim(dkim)));
    }

    @Override
    public void pickupRejected(String file, int uid, String from, String reason) {
        emit("- pickup rejected file=" + file + " uid=" + uid + " from=<" + from + "> reason=" + quote(reason));
    }

    @Override
    public void rejected(String from, String to, String client, Refusal why, String reply) {
        emit("- intake rejected from=<" + from + "> to=<" + to + "> client=" + client + " reply=" + quote(reply));
    }

    @Override
    public void delivered(QueueId id, String to, String upstream, int attempt, Duration delay, String delays,
                          String reply) {
        emit(id + " forward delivered to=<" + to + "> upstream=" + upstream + " attempt=" + attempt
                + " delay=" + seconds(delay) + " delays=" + delays + " reply=" + quote(reply));
    }

    @Override
    public void deferred(QueueId id, String to, String upstream, int attempt, String next, String stage,
                         String reply) {
        emit(id + " forward deferred to=<" + to + "> upstream=" + upstream + " attempt=" + attempt
                + " next=" + next + " stage=" + stage + " reply=" + quote(reply));
    }

    @Override
    public void failed(QueueId id, String to, String upstream, int attempt, String stage, String reply) {
        emit(id + " forward failed to=<" + to + "> upstream=" + upstream + " attempt=" + attempt
                + " stage=" + stage + " reply=" + quote(reply));
    }

    @Override
    public void upstreamDown(String name, String upstream, String reason) {
        emit("- forward down upstream=" + upstream + " name=" + name + " reason=" + quote(reason));
    }

    @Override
    public void upstreamUp(String name, String upstream, int retried) {
        emit("- forward up upstream=" + upstream + " name=" + name + " retried=" + retried);
    }

    /** A delivery status notification for {@code id}'s failed recipients was queued as {@code dsn}. */
    @Override
    public void upstreamPaused(String name, String cause, String until, String reason) {
        emit("- forward paused name=" + name + " cause=" + cause + " until=" + until + " reason=" + quote(reason));
    }

    @Override
    public void upstreamResumed(String name, String by, int retried) {
        emit("- forward resumed name=" + name + " by=" + by + " retried=" + retried);
    }

    @Override
    public void dsnQueued(QueueId id, QueueId dsn, String to) {
        emit(id + " forward dsn to=<" + to + "> dsn=" + dsn);
    }

    /** A DSN that policy did not send (rate limit). */
    @Override
    public void dsnSkipped(QueueId id, String reason) {
        emit(id + " forward dsn-skipped reason=" + quote(reason));
    }

    /** The queue events that carry no further detail; each is a word of the vocabulary. */
    public static final java.util.Set<String> QUEUE_EVENTS =
            java.util.Set.of("removed", "held", "released", "deleted", "retried", "requeued");

    /**
     * A queue event without further detail, one of {@link #QUEUE_EVENTS}: removed (delivered to
     * every recipient, entry gone), and the admin actions held, released, deleted, retried,
     * requeued. Any other word is a programming error: operators grep for these exact words.
     */
    @Override
    public void queueEvent(QueueId id, String event) {
        if (!QUEUE_EVENTS.contains(event)) {
            throw new IllegalArgumentException("not a queue event word: " + event);
        }
        emit(id + " queue " + event);
    }

    /** A failed entry deleted by {@code queue purge} or by the retention sweep; reason says which. */
    @Override
    public void purged(QueueId id, String reason) {
        emit(id + " queue purged reason=" + quote(reason));
    }

    @Override
    public void quarantined(String id, String reason) {
        emit(id + " queue quarantined reason=" + quote(reason));
    }

    /**
     * The {@code delays=} value of a delivered line: where the time of one attempt went, in seconds
     * with two decimals, as {@code wait/connect/transfer} [Postfix delays=a/b/c/d]:
     * <ul>
     *   <li>wait: from the entry becoming due (accept, or its retry time) to the attempt starting,
     *       i.e. time spent in the queue behind other mail or rate limits;</li>
     *   <li>connect: TCP, TLS handshake, greeting, EHLO and AUTH; 0.00 on a reused session;</li>
     *   <li>transfer: MAIL FROM to the upstream's reply after the message data.</li>
     * </ul>
     * Negative durations (clock steps) are shown as 0.00.
     */
    public static String delays(Duration wait, Duration connect, Duration transfer) {
        return secs(wait) + "/" + secs(connect) + "/" + secs(transfer);
    }

    private static String secs(Duration d) {
        return d.isNegative() ? "0.00" : twoDecimals(d.toMillis());
    }

    /**
     * Milliseconds as seconds with two decimals, rounded half up as {@code %.2f} does. Written out
     * by hand because String.format was 7% of a forwarder thread's time in a queue drain.
     */
    static String twoDecimals(long millis) {
        if (millis < 0) {
            return "-" + twoDecimals(-millis);
        }
        long centis = (millis + 5) / 10;
        long frac = centis % 100;
        return (centis / 100) + (frac < 10 ? ".0" : ".") + frac;
    }

    private void emit(String line) {
        sink.line(line);
    }

    /** Quotes a value and escapes what would break one-line parsing. */
    public static String quote(String v) {
        StringBuilder b = new StringBuilder(v.length() + 2).append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\r' -> b.append("\\r");
                case '\n' -> b.append("\\n");
                default -> b.append(c < 0x20 || c == 0x7f ? '?' : c);
            }
        }
        return b.append('"').toString();
    }

    /** "domain/selector" per signature, in signing order, for dkim=; "" when unsigned. */
    static String dkim(List<SignedBy> signers) {
        StringBuilder b = new StringBuilder();
        for (SignedBy s : signers) {
            b.append(b.length() == 0 ? "" : ",").append(s.label());
        }
        return b.toString();
    }

    private static String dash(String v) {
        return v == null || v.isEmpty() ? "-" : v;
    }

    private static String seconds(Duration d) {
        return twoDecimals(d.toMillis()) + "s";
    }
}
