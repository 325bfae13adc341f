package relaybox.relay.forward;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;
import static relaybox.relay.forward.FailurePolicy.Effect.NONE;
import static relaybox.relay.forward.FailurePolicy.Effect.PAUSE_ALERT;
import static relaybox.relay.forward.FailurePolicy.Effect.PAUSE_QUOTA;
import static relaybox.relay.forward.FailurePolicy.Effect.SLOW_DOWN;
import static relaybox.relay.forward.FailurePolicy.Verdict.DEFER;
import static relaybox.relay.forward.FailurePolicy.Verdict.FAIL;

/**
 * The providers' replies as they really send them (shared/notes/upstreams.md), one row each:
 * stage x literal reply -> verdict, what it asks of the upstream, whether the circuit opens, and
 * whether it is a configuration error. No upstream rules configured: this is built-in knowledge.
 */
class ProviderRepliesTest {

    private static final FailurePolicy POLICY = new FailurePolicy(List.of());

    /** stage, code, text, verdict, effect, upstream down, config error, retire. */
    static Stream<Arguments> replies() {
        return Stream.of(
                // Throttling: defer, slow that upstream down, never "down" even while opening a session.
                arguments(Stage.DATA_END, 454, "Throttling failure: Maximum sending rate exceeded.", DEFER, SLOW_DOWN,
                        false, false, false),
                arguments(Stage.GREETING, 432, "4.3.2 Concurrent connections limit exceeded. Visit "
                        + "https://aka.ms/concurrent_sending for more information.", DEFER, SLOW_DOWN, false, false, true),
                arguments(Stage.MAIL, 432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", DEFER,
                        SLOW_DOWN, false, false, false),
                arguments(Stage.RCPT, 450, "4.2.1 Peak SMTP relay limit exceeded for customer. To learn more "
                        + "visit https://support.google.com/a/answer/3726730", DEFER, SLOW_DOWN, false, false, false),
                arguments(Stage.MAIL, 421, "4.7.0 Try again later, closing connection. (MAIL) - gsmtp", DEFER,
                        SLOW_DOWN, false, false, true),
                arguments(Stage.GREETING, 421, "4.7.0 Try again later, closing connection.", DEFER, SLOW_DOWN, false,
                        false, true),
                arguments(Stage.DATA_END, 550, "5.7.1 Message throttled, too many messages", DEFER, SLOW_DOWN, false,
                        false, false),
                // Daily quotas answered with 5xx: never a bounce; the upstream pauses.
                arguments(Stage.MAIL, 550, "5.4.5 Daily SMTP relay limit exceeded for user. To learn more visit "
                        + "https://support.google.com/a/answer/3726730", DEFER, PAUSE_QUOTA, false, false, true),
                arguments(Stage.RCPT, 550, "5.4.5 Daily user sending limit exceeded. - gsmtp", DEFER, PAUSE_QUOTA,
                        false, false, true),
                arguments(Stage.MAIL, 550, "5.7.1 Daily SMTP relay limit exceeded for customer. - gsmtp", DEFER,
                        PAUSE_QUOTA, false, false, true),
                arguments(Stage.DATA_END, 554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;"
                        + " Failed to process message due to a permanent exception", DEFER, PAUSE_QUOTA, false, false,
                        true),
                // Microsoft's continuous-error throttling: pause and alert.
                arguments(Stage.MAIL, 550, "5.2.251 Sender throttled due to continuous invalid recipients errors",
                        DEFER, PAUSE_ALERT, false, false, true),
                arguments(Stage.DATA_END, 550, "5.2.252 SendAsDenied; Sender throttled due to continuous send as "
                        + "denied errors", DEFER, PAUSE_ALERT, false, false, true),
                arguments(Stage.RCPT, 554, "5.2.255 Sender throttled due to continuous ...", DEFER, PAUSE_ALERT, false,
                        false, true),
                // SMTP AUTH off for the tenant: a configuration error, with advice.
                arguments(Stage.AUTH, 535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"
                        + " for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.", DEFER, NONE,
                        true, true, true),
                // Look-alikes that are not these replies keep the generic table's answer.
                arguments(Stage.DATA_END, 554, "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException."
                        + "MapiExceptionSendAsDenied", FAIL, NONE, false, false, false),
                arguments(Stage.RCPT, 550, "5.1.1 The email account that you tried to reach does not exist", FAIL,
                        NONE, false, false, false),
                arguments(Stage.MAIL, 550, "5.2.250 something else", FAIL, NONE, false, false, false),
                arguments(Stage.MAIL, 421, "4.3.2 Service shutting down", DEFER, NONE, false, false, true),
                arguments(Stage.GREETING, 421, "4.3.2 Service shutting down", DEFER, NONE, true, false, true),
                arguments(Stage.AUTH, 535, "5.7.3 Authentication unsuccessful", DEFER, NONE, true, true, true));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("replies")
    void classifiesProviderReplies(Stage stage, int code, String text, FailurePolicy.Verdict verdict,
                                   FailurePolicy.Effect effect, boolean down, boolean config, boolean retire) {
        FailurePolicy.Decision d = POLICY.reply(stage, UpstreamReply.of(code, text));
        assertEquals(verdict, d.verdict(), "verdict");
        assertEquals(effect, d.effect(), "effect");
        assertEquals(down, d.upstreamDown(), "upstream down");
        assertEquals(config, d.configError(), "configuration error");
        assertEquals(retire, d.retire(), "retire the session");
        assertEquals(code + " " + text, d.outcome().reply(), "the literal reply is kept");
    }

    @org.junit.jupiter.api.Test
    void smtpAuthDisabledSaysWhatToSwitchOn() {
        FailurePolicy.Decision d = POLICY.reply(Stage.AUTH,
                UpstreamReply.of(535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"));
        assertEquals(Outcome.Kind.CONFIGURATION, d.outcome().kind());
        assertTrue(d.explained().startsWith("535 5.7.139 Authentication unsuccessful"), d.explained());
        assertTrue(d.explained().contains("Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled $false"),
                d.explained());
    }
}
