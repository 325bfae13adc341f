package relaybox.relay.forward;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import relaybox.queue.DeliveryOutcome;
import relaybox.relay.metrics.RelayMetrics;

import javax.net.ssl.SSLHandshakeException;
import java.io.IOException;
import java.net.ConnectException;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;
import static relaybox.relay.forward.Outcome.Kind.CONFIGURATION;
import static relaybox.relay.forward.Outcome.Kind.DELIVERED;
import static relaybox.relay.forward.Outcome.Kind.PERMANENT;
import static relaybox.relay.forward.Outcome.Kind.TEMPORARY;

/**
 * The outcome each classification makes, as data: stage, class, cause (the metrics'
 * {@code reply_class}), enhanced status code and literal reply, and what the queue records of it.
 * These are the facts the mail log, the metrics and the queue used to read back out of the text.
 */
class OutcomeTest {

    private static final FailurePolicy POLICY = new FailurePolicy(List.of(ReplyRule.parse("454 Throttling")));

    private static Function<FailurePolicy, Outcome> reply(Stage stage, int code, String text) {
        return p -> p.reply(stage, UpstreamReply.of(code, text)).outcome();
    }

    private static Function<FailurePolicy, Outcome> thrown(Stage stage, Throwable t) {
        return p -> p.exception(stage, t).outcome();
    }

    /** made by, then stage, kind, reply_class, status, literal reply. */
    static Stream<Arguments> outcomes() {
        return Stream.of(
                arguments(reply(Stage.DATA_END, 250, "2.0.0 Ok: queued as X"), Stage.DATA_END, DELIVERED, "2xx",
                        "2.0.0", "250 2.0.0 Ok: queued as X"),
                arguments(reply(Stage.RCPT, 451, "4.7.1 Try again later"), Stage.RCPT, TEMPORARY, "4xx", "4.7.1",
                        "451 4.7.1 Try again later"),
                arguments(reply(Stage.MAIL, 421, "4.4.2 closing"), Stage.MAIL, TEMPORARY, "4xx", "4.4.2",
                        "421 4.4.2 closing"),
                arguments(reply(Stage.RCPT, 550, "5.1.1 No such user"), Stage.RCPT, PERMANENT, "5xx", "5.1.1",
                        "550 5.1.1 No such user"),
                arguments(reply(Stage.DATA_END, 554, ""), Stage.DATA_END, PERMANENT, "5xx", "", "554"),
                arguments(reply(Stage.DATA_END, 454, "Throttling failure"), Stage.DATA_END, TEMPORARY, "4xx", "",
                        "454 Throttling failure"),
                // A 4.x.x status under a 5xx code is not the reply's status.
                arguments(reply(Stage.RCPT, 550, "4.1.1 odd"), Stage.RCPT, PERMANENT, "5xx", "", "550 4.1.1 odd"),
                arguments(reply(Stage.AUTH, 535, "5.7.8 Authentication credentials invalid"), Stage.AUTH,
                        CONFIGURATION, "5xx", "5.7.8", "535 5.7.8 Authentication credentials invalid"),
                arguments(reply(Stage.AUTH, 454, "4.7.0 later"), Stage.AUTH, TEMPORARY, "4xx", "4.7.0",
                        "454 4.7.0 later"),
                arguments(reply(Stage.DATA, 250, "unexpected"), Stage.DATA, TEMPORARY, "other", "", "250 unexpected"),
                arguments(reply(Stage.DATA_END, 600, "nonsense"), Stage.DATA_END, TEMPORARY, "other", "",
                        "600 nonsense"),
                arguments(thrown(Stage.DATA_END, new SessionException("timeout after 600s")), Stage.DATA_END, TEMPORARY,
                        "timeout", "4.4.2", "DATA end: timeout after 600s"),
                arguments(thrown(Stage.STARTTLS, new SessionException("TLS handshake failed: PKIX path building failed",
                        new SSLHandshakeException("PKIX"))), Stage.STARTTLS, CONFIGURATION, "tls", "4.7.0",
                        "STARTTLS: TLS handshake failed: PKIX path building failed"),
                arguments(thrown(Stage.CONNECT, new ConnectException("Connection refused")), Stage.CONNECT, TEMPORARY,
                        "io", "4.4.1", "connect: connection refused"),
                arguments(thrown(Stage.RCPT, new IOException("Broken pipe")), Stage.RCPT, TEMPORARY, "io", "4.4.2",
                        "RCPT: IOException: Broken pipe"),
                arguments((Function<FailurePolicy, Outcome>) p -> p.configProblem(Stage.STARTTLS,
                        "STARTTLS required but not offered").outcome(), Stage.STARTTLS, CONFIGURATION, "tls", "4.7.0",
                        "STARTTLS: STARTTLS required but not offered"),
                arguments((Function<FailurePolicy, Outcome>) p -> p.unsendable("SMTPUTF8 is required").outcome(),
                        Stage.MESSAGE, PERMANENT, "io", "5.6.7", "message: SMTPUTF8 is required"),
                arguments((Function<FailurePolicy, Outcome>) p -> FailurePolicy.localFailure(Stage.MESSAGE,
                        "message: the queued message could not be read"), Stage.MESSAGE, TEMPORARY, "io", "4.3.0",
                        "message: the queued message could not be read"),
                arguments((Function<FailurePolicy, Outcome>) p -> FailurePolicy.localFailure(Stage.CONNECT,
                        "connect: upstream ses is down: connect: timeout after 30s"), Stage.CONNECT, TEMPORARY,
                        "timeout", "4.4.1", "connect: upstream ses is down: connect: timeout after 30s"),
                arguments((Function<FailurePolicy, Outcome>) p -> FailurePolicy.deliveredLocally(
                        "250 2.0.0 written to /o/X.eml"), Stage.DATA_END, DELIVERED, "2xx", "2.0.0",
                        "250 2.0.0 written to /o/X.eml"));
    }

    @ParameterizedTest(name = "{6}")
    @MethodSource("outcomes")
    void classifiedOnceAndCarried(Function<FailurePolicy, Outcome> make, Stage stage, Outcome.Kind kind,
                                  String replyClass, String status, String reply) {
        Outcome o = make.apply(POLICY);
        assertEquals(new Outcome(stage, kind, o.cause(), status, reply), o);
        assertEquals(replyClass, o.cause().label(), "reply_class");
        if (kind != DELIVERED) {
            // What the deferred and failed counters are labelled with: never "other" by accident.
            assertTrue(RelayMetrics.REPLY_CLASSES.contains(replyClass), replyClass);
        }
        DeliveryOutcome q = o.toQueue();
        assertEquals(reply, q.reply());
        assertEquals(switch (kind) {
            case DELIVERED -> DeliveryOutcome.Delivered.class;
            case PERMANENT -> DeliveryOutcome.Failed.class;
            case TEMPORARY, CONFIGURATION -> DeliveryOutcome.Deferred.class;
        }, q.getClass());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("outcomes")
    void restagingKeepsEverythingElse(Function<FailurePolicy, Outcome> make) {
        Outcome o = make.apply(POLICY);
        Outcome m = o.at(Stage.MAIL);
        assertEquals(new Outcome(Stage.MAIL, o.kind(), o.cause(), o.status(), o.reply()), m);
    }
}
