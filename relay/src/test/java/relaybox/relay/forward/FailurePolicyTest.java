package relaybox.relay.forward;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import relaybox.queue.DeliveryOutcome;

import javax.net.ssl.SSLHandshakeException;
import java.io.IOException;
import java.net.ConnectException;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.params.provider.Arguments.arguments;
import static relaybox.relay.forward.FailurePolicy.Verdict.DEFER;
import static relaybox.relay.forward.FailurePolicy.Verdict.FAIL;
import static relaybox.relay.forward.FailurePolicy.Verdict.OK;

/** One row per line of {@link FailurePolicy}'s table: stage x reply (or exception) -> decision. */
class FailurePolicyTest {

    private static final FailurePolicy POLICY =
            new FailurePolicy(List.of(ReplyRule.parse("454 Throttling"), ReplyRule.parse("550 try again")));

    /** stage, code, text, verdict, upstream down, config error, retire, slow down. */
    static Stream<Arguments> replies() {
        return Stream.of(
                arguments(Stage.GREETING, 220, "ready", OK, false, false, false, false),
                arguments(Stage.GREETING, 421, "4.3.2 busy", DEFER, true, false, true, false),
                arguments(Stage.GREETING, 554, "5.7.1 go away", DEFER, true, true, true, false),
                arguments(Stage.EHLO, 250, "esp", OK, false, false, false, false),
                arguments(Stage.EHLO, 451, "4.3.0 later", DEFER, true, false, true, false),
                arguments(Stage.EHLO, 550, "5.5.1 no", DEFER, true, true, true, false),
                arguments(Stage.STARTTLS, 220, "go ahead", OK, false, false, false, false),
                arguments(Stage.STARTTLS, 454, "4.7.0 TLS not available", DEFER, true, false, true, false),
                arguments(Stage.STARTTLS, 501, "5.5.4 no", DEFER, true, true, true, false),
                arguments(Stage.AUTH, 235, "2.7.0 ok", OK, false, false, false, false),
                arguments(Stage.AUTH, 454, "4.7.0 temporary auth failure", DEFER, true, false, true, false),
                arguments(Stage.AUTH, 535, "5.7.8 bad credentials", DEFER, true, true, true, false),
                arguments(Stage.MAIL, 250, "ok", OK, false, false, false, false),
                arguments(Stage.MAIL, 451, "4.3.0 later", DEFER, false, false, false, false),
                arguments(Stage.MAIL, 421, "4.7.0 closing", DEFER, false, false, true, false),
                arguments(Stage.MAIL, 550, "5.7.1 sender rejected", FAIL, false, false, false, false),
                arguments(Stage.RCPT, 250, "ok", OK, false, false, false, false),
                arguments(Stage.RCPT, 251, "will forward", OK, false, false, false, false),
                arguments(Stage.RCPT, 450, "4.2.0 mailbox busy", DEFER, false, false, false, false),
                arguments(Stage.RCPT, 550, "5.1.1 no such user", FAIL, false, false, false, false),
                arguments(Stage.RCPT, 550, "5.7.1 Too many messages, try again later", DEFER, false, false, false, true),
                arguments(Stage.DATA, 354, "go ahead", OK, false, false, false, false),
                arguments(Stage.DATA, 451, "4.3.0 later", DEFER, false, false, false, false),
                arguments(Stage.DATA, 554, "5.5.1 no valid recipients", FAIL, false, false, false, false),
                arguments(Stage.DATA, 250, "unexpected", DEFER, false, false, false, false),
                arguments(Stage.DATA_END, 250, "2.0.0 queued", OK, false, false, false, false),
                arguments(Stage.DATA_END, 452, "4.3.1 insufficient storage", DEFER, false, false, false, false),
                arguments(Stage.DATA_END, 454, "Throttling failure: Maximum sending rate exceeded", DEFER, false, false,
                        false, true),
                arguments(Stage.DATA_END, 451, "4.7.1 throttled", DEFER, false, false, false, true),
                arguments(Stage.DATA_END, 552, "5.3.4 message too big", FAIL, false, false, false, false),
                arguments(Stage.DATA_END, 354, "unexpected", DEFER, false, false, false, false),
                arguments(Stage.DATA_END, 600, "nonsense", DEFER, false, false, false, false));
    }

    @ParameterizedTest(name = "{0} {1} {2} -> {3}")
    @MethodSource("replies")
    void classifiesReplies(Stage stage, int code, String text, FailurePolicy.Verdict verdict, boolean down,
                           boolean config, boolean retire, boolean slow) {
        UpstreamReply reply = UpstreamReply.of(code, text);
        FailurePolicy.Decision d = POLICY.reply(stage, reply);
        assertEquals(verdict, d.verdict(), "verdict");
        assertEquals(down, d.upstreamDown(), "upstream down");
        assertEquals(config, d.configError(), "config error");
        assertEquals(retire, d.retire(), "retire");
        assertEquals(slow, d.slowDown(), "slow down");
        if (verdict == DEFER) {
            assertEquals(new DeliveryOutcome.Deferred(code + " " + text), d.outcome().toQueue());
        } else if (verdict == FAIL) {
            assertEquals(new DeliveryOutcome.Failed(code + " " + text), d.outcome().toQueue());
        } else {
            assertEquals(new DeliveryOutcome.Delivered(code + " " + text), d.outcome().toQueue());
        }
        assertEquals(stage, d.outcome().stage(), "stage");
    }

    /** stage, exception, expected reason, upstream down, config error. */
    static Stream<Arguments> exceptions() {
        return Stream.of(
                arguments(Stage.CONNECT, new ConnectException("Connection refused"), "connect: connection refused",
                        true, false),
                arguments(Stage.GREETING, new SessionException("timeout after 60s"), "greeting: timeout after 60s",
                        true, false),
                arguments(Stage.STARTTLS, new SessionException("TLS handshake failed: x",
                        new SSLHandshakeException("x")), "STARTTLS: TLS handshake failed: x", true, true),
                arguments(Stage.RCPT, new SessionException("connection closed by upstream"),
                        "RCPT: connection closed by upstream", false, false),
                arguments(Stage.DATA_END, new SessionException("timeout after 600s"), "DATA end: timeout after 600s",
                        false, false),
                arguments(Stage.MAIL, new IOException("Broken pipe"), "MAIL: IOException: Broken pipe", false, false),
                arguments(Stage.MAIL, new IllegalStateException(), "MAIL: IllegalStateException", false, false));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("exceptions")
    void everyExceptionDefersAndRetiresTheSession(Stage stage, Throwable t, String reason, boolean down, boolean config) {
        FailurePolicy.Decision d = POLICY.exception(stage, t);
        assertEquals(DEFER, d.verdict());
        assertEquals(new DeliveryOutcome.Deferred(reason), d.outcome().toQueue());
        assertEquals(stage, d.outcome().stage(), "stage");
        assertEquals(down, d.upstreamDown(), "upstream down");
        assertEquals(config, d.configError(), "config error");
        assertEquals(true, d.retire(), "retire");
    }

    static Stream<Arguments> rules() {
        return Stream.of(
                arguments("454", 454, "anything", true),
                arguments("55", 552, "x", true),
                arguments("454 Throttling", 454, "Throttling failure", true),
                arguments("454 Throttling", 454, "other", false),
                arguments("550 try again", 550, "5.7.1 Too many, TRY AGAIN later", true),
                arguments("550 try again", 551, "try again", false));
    }

    @ParameterizedTest(name = "{0} vs {1} {2} -> {3}")
    @MethodSource("rules")
    void replyRules(String rule, int code, String text, boolean matches) {
        assertEquals(matches, ReplyRule.parse(rule).matches(UpstreamReply.of(code, text)));
    }
}
