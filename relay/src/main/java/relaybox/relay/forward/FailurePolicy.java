package relaybox.relay.forward;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import javax.net.ssl.SSLException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;

/**
 * Owns the classification of every upstream reply and every local failure into an
 * {@link Outcome}, once, by stage: the only place outcomes are made, so no other class decides
 * whether a failure is temporary or permanent, and nothing downstream reads it back from text.
 * It does not send anything and does not touch the queue.
 *
 * <pre>
 * stage      success  4xx                   5xx                           timeout / I/O / TLS failure
 * connect    -        -                     -                             defer, upstream down
 * greeting   220      defer, upstream down  defer, upstream down (config) defer, upstream down
 * EHLO       250      defer, upstream down  defer, upstream down (config) defer, upstream down
 * STARTTLS   220      defer, upstream down  defer, upstream down (config) defer, upstream down (config)
 * AUTH       235      defer, upstream down  defer, upstream down (config) defer, upstream down
 * MAIL       250      defer the message     fail the message              defer the message
 * RCPT       250/251  defer that recipient  fail that recipient only      defer the message
 * DATA       354      defer the message     fail the message              defer the message
 * DATA end   250      defer the message     fail the message              defer the message (may duplicate)
 * message    -        -                     -                             defer (spool read error)
 * </pre>
 *
 * <ul>
 *   <li>"upstream down": the failure is the link's or the upstream's, not the message's. The
 *       session cannot be opened, the dispatcher opens the upstream's circuit and the message goes
 *       back to the queue without spending an attempt.</li>
 *   <li>"(config)": a 5xx while opening the session (a refused greeting, EHLO, STARTTLS or AUTH,
 *       STARTTLS not offered, a certificate that does not verify) means the relay's configuration
 *       or the account is wrong. Bouncing every message for that would be a disaster, so it
 *       defers and logs loudly at ERROR instead.</li>
 *   <li>A reply that matches one of the upstream's {@code temporary_replies} rules is temporary
 *       whatever its code ("550 ... try again") and asks the sender to slow down.</li>
 *   <li>The providers' own replies ({@link ProviderReplies}) come before the table: throttling
 *       (SES {@code 454 Throttling}, Microsoft {@code 432 4.3.2}, Google {@code 450 4.2.1} and
 *       {@code 421 4.7.0 Try again later}, any text saying "throttl") defers and slows that
 *       upstream down, and at session setup does not count as the upstream being down; a daily
 *       quota answered with 5xx (Google {@code 550 5.4.5}, Microsoft {@code 554 5.2.0 STOREDRV}
 *       quota) and Microsoft's {@code 5.2.251}-{@code 5.2.255} sender throttling defer and pause
 *       the upstream ({@link Effect}); {@code 535 5.7.139} is a configuration error with advice.</li>
 *   <li>A 421 at any stage also means the upstream is closing: the session is retired.</li>
 *   <li>Anything not in the table (a 1xx or 3xx where 2xx was due, a 6xx, an unknown exception)
 *       defers: losing mail is worse than retrying it.</li>
 * </ul>
 *
 * <p>Outcome texts: for a reply, the upstream's literal reply; for a local failure, the stage and
 * what happened ("DATA end: timeout after 600s"). Class: 2xx delivered, then the table above;
 * "(config)" rows are {@link Outcome.Kind#CONFIGURATION}. Cause, for the metrics: the reply's code
 * class, or for a local failure timeout, tls or io.
 */
public final class FailurePolicy {

    private static final Logger LOG = LoggerFactory.getLogger(FailurePolicy.class);

    /** What a classified event means for the message and the session. */
    public enum Verdict { OK, DEFER, FAIL }

    /** What a reply asks of the upstream as a whole, beyond the message that met it. */
    public enum Effect {
        NONE,
        /** Throttling: send more slowly, on fewer connections, for a while. */
        SLOW_DOWN,
        /** A used-up quota: pause the upstream for its quota window; its mail waits or fails over. */
        PAUSE_QUOTA,
        /** The upstream blocks this sender for a while and retries extend it: pause, and alert. */
        PAUSE_ALERT;

        public boolean pauses() {
            return this == PAUSE_QUOTA || this == PAUSE_ALERT;
        }
    }

    /**
     * @param verdict      ok, defer or fail
     * @param outcome      the outcome to record (for OK, the delivered outcome of that reply)
     * @param upstreamDown the session could not be opened: open the circuit, return the message
     * @param configError  the failure points at the relay's configuration (logged at ERROR)
     * @param retire       the session must not carry another message (421, I/O error, timeout)
     * @param effect       what the reply asks of the upstream as a whole (slow down, pause)
     * @param advice       what the operator should do, for a configuration error the relay
     *                     recognises; "" otherwise
     */
    public record Decision(Verdict verdict, Outcome outcome, boolean upstreamDown, boolean configError,
                           boolean retire, Effect effect, String advice) {
        public boolean ok() {
            return verdict == Verdict.OK;
        }

        /** The upstream asked us to slow down (throttling). */
        public boolean slowDown() {
            return effect == Effect.SLOW_DOWN;
        }

        /** The literal reply, followed by the advice when there is one: what status and the log show. */
        public String explained() {
            return advice.isEmpty() ? outcome.reply() : outcome.reply() + " (" + advice + ")";
        }
    }

    private final List<ReplyRule> temporaryReplies;

    public FailurePolicy(List<ReplyRule> temporaryReplies) {
        this.temporaryReplies = List.copyOf(temporaryReplies);
    }

    /** Classifies a reply received at {@code stage}. */
    public Decision reply(Stage stage, UpstreamReply reply) {
        if (stage.accepts(reply.code())) {
            return new Decision(Verdict.OK, of(stage, Outcome.Kind.DELIVERED, reply), false, false, false,
                    Effect.NONE, "");
        }
        ProviderReplies.Known known = ProviderReplies.match(reply).orElse(null);
        if (known != null) {
            return known(stage, reply, known.meaning());
        }
        boolean ruled = temporaryReplies.stream().anyMatch(r -> r.matches(reply));
        Effect slow = ruled ? Effect.SLOW_DOWN : Effect.NONE;
        boolean retire = reply.code() == 421;
        if (stage.isSessionSetup()) {
            boolean config = reply.isPermanent() && !ruled;
            return new Decision(Verdict.DEFER, of(stage, config ? Outcome.Kind.CONFIGURATION : Outcome.Kind.TEMPORARY,
                    reply), true, config, true, slow, "");
        }
        if (reply.isPermanent() && !ruled) {
            return new Decision(Verdict.FAIL, of(stage, Outcome.Kind.PERMANENT, reply), false, false, false,
                    Effect.NONE, "");
        }
        // 4xx, a rule-matched 5xx, and every code the table does not know.
        return new Decision(Verdict.DEFER, of(stage, Outcome.Kind.TEMPORARY, reply), false, false, retire, slow, "");
    }

    /**
     * A provider's reply the relay knows ({@link ProviderReplies}). None fails the message. Throttling
     * and pauses never open the circuit (the upstream is up, it asks us to wait); a throttling
     * reply during session setup or a 421 still ends that session.
     */
    private static Decision known(Stage stage, UpstreamReply reply, ProviderReplies.Meaning meaning) {
        return switch (meaning) {
            case THROTTLED -> new Decision(Verdict.DEFER, of(stage, Outcome.Kind.TEMPORARY, reply), false, false,
                    reply.code() == 421 || stage.isSessionSetup(), Effect.SLOW_DOWN, "");
            case QUOTA -> new Decision(Verdict.DEFER, of(stage, Outcome.Kind.TEMPORARY, reply), false, false, true,
                    Effect.PAUSE_QUOTA, "");
            case SENDER_BLOCKED -> new Decision(Verdict.DEFER, of(stage, Outcome.Kind.TEMPORARY, reply), false, false,
                    true, Effect.PAUSE_ALERT, "");
            case SMTP_AUTH_DISABLED -> new Decision(Verdict.DEFER, of(stage, Outcome.Kind.CONFIGURATION, reply),
                    stage.isSessionSetup(), true, true, Effect.NONE, ProviderReplies.SMTP_AUTH_ADVICE);
        };
    }

    private static Outcome of(Stage stage, Outcome.Kind kind, UpstreamReply reply) {
        return new Outcome(stage, kind, Outcome.Cause.of(reply, kind == Outcome.Kind.DELIVERED),
                Outcome.enhancedStatus(reply), reply.toString());
    }

    /**
     * Classifies a local failure at {@code stage}: a timeout, a closed connection, an I/O or TLS
     * error. Always temporary; the session is always retired.
     */
    public Decision exception(Stage stage, Throwable t) {
        boolean tls = isTls(t);
        String reason = stage.word() + ": " + describe(t);
        boolean config = tls && stage.isSessionSetup();
        Outcome.Cause cause = localCause(reason);
        return new Decision(Verdict.DEFER, new Outcome(stage, config ? Outcome.Kind.CONFIGURATION
                : Outcome.Kind.TEMPORARY, cause, localStatus(stage, cause), reason), stage.isSessionSetup(), config,
                true, Effect.NONE, "");
    }

    /** A session-setup condition found by the client itself, e.g. STARTTLS required but not offered. */
    public Decision configProblem(Stage stage, String what) {
        String reason = stage.word() + ": " + what;
        Outcome.Cause cause = stage == Stage.STARTTLS ? Outcome.Cause.TLS : localCause(reason);
        return new Decision(Verdict.DEFER, new Outcome(stage, Outcome.Kind.CONFIGURATION, cause, "4.7.0", reason),
                true, true, true, Effect.NONE, "");
    }

    /**
     * The message cannot go through this upstream as it is (SMTPUTF8 needed but not offered).
     * Permanent, as in Postfix ("SMTPUTF8 is required, but was not offered"): the upstream's
     * capabilities do not change between retries, and an early bounce beats one after 5 days.
     */
    public Decision unsendable(String what) {
        return new Decision(Verdict.FAIL, new Outcome(Stage.MESSAGE, Outcome.Kind.PERMANENT, Outcome.Cause.IO,
                "5.6.7", "message: " + what), false, false, false, Effect.NONE, "");
    }

    /**
     * A failure the relay itself found outside a conversation (a message that could not be read,
     * a session that ended before a recipient's turn, an upstream already known to be down):
     * temporary, with {@code reason} as the recorded reply.
     */
    public static Outcome localFailure(Stage stage, String reason) {
        Outcome.Cause cause = localCause(reason);
        return new Outcome(stage, Outcome.Kind.TEMPORARY, cause, localStatus(stage, cause), reason);
    }

    /** Delivered by a local transport (the outbox directory), which has no upstream reply. */
    public static Outcome deliveredLocally(String reply) {
        return new Outcome(Stage.DATA_END, Outcome.Kind.DELIVERED, Outcome.Cause.REPLY_2XX, "2.0.0", reply);
    }

    /** Timeout, tls or io for a local failure described by {@code reason} (the relay's own words). */
    private static Outcome.Cause localCause(String reason) {
        String r = reason.toLowerCase(Locale.ROOT);
        if (r.contains("timeout") || r.contains("timed out")) {
            return Outcome.Cause.TIMEOUT;
        }
        if (r.contains("ssl") || r.contains("tls") || r.contains("certificate") || r.contains("handshake")) {
            return Outcome.Cause.TLS;
        }
        return Outcome.Cause.IO;
    }

    /** RFC 3463 for a local failure: no answer from the host, a bad connection, a security problem. */
    private static String localStatus(Stage stage, Outcome.Cause cause) {
        if (cause == Outcome.Cause.TLS) {
            return "4.7.0";
        }
        if (stage == Stage.MESSAGE) {
            return "4.3.0";
        }
        return stage == Stage.CONNECT ? "4.4.1" : "4.4.2";
    }

    /** Logs a configuration error loudly; called once per circuit opening, not per message. */
    public static void logConfigError(String upstream, Decision d) {
        LOG.error("upstream {}: configuration or account problem, mail is deferred until it is fixed: {}; "
                + "probing again at growing intervals up to {}m (after a fix, relaybox upstream test tries at once)",
                upstream, d.explained(), ProbeSchedule.MAX_BACKOFF.toMinutes());
    }

    private static boolean isTls(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SSLException || c instanceof java.security.cert.CertificateException) {
                return true;
            }
        }
        return false;
    }

    static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (t instanceof SessionException s) {
            return s.getMessage();
        }
        if (root instanceof UnknownHostException) {
            return "unknown host " + root.getMessage();
        }
        if (root instanceof ConnectException) {
            return "connection refused";
        }
        if (root instanceof SocketTimeoutException && root.getMessage() != null) {
            return root.getMessage();
        }
        String m = root.getMessage();
        String what = root.getClass().getSimpleName();
        return m == null || m.isEmpty() ? what : what + ": " + m;
    }
}
