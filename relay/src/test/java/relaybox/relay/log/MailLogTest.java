package relaybox.relay.log;

import org.junit.jupiter.api.Test;
import relaybox.queue.QueueId;
import relaybox.relay.dkim.MessageSigner.SignedBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The exact text of every MailLog line: operators and their scripts grep these. The forwarder's
 * lines are also pinned, with more cases, in {@code ForwardMailLogTest}.
 */
class MailLogTest {

    private final List<String> lines = new ArrayList<>();
    private final MailLog log = new MailLog(lines::add);
    private final QueueId id = new QueueId("7QH3K9M2XC4T");
    private static final String ESP = "smtp.esp.example[203.0.113.7]:587";

    @Test
    void secondsWithTwoDecimalsRoundAsPercentTwoFDid() {
        long[] cases = {0, 1, 4, 5, 9, 10, 15, 94, 95, 99, 995, 999, 1000, 1004, 1005, 12_345, 3_600_000, -3, -5, -1234};
        for (long ms : cases) {
            assertEquals(String.format(java.util.Locale.ROOT, "%.2f", ms / 1000.0), MailLog.twoDecimals(ms), ms + " ms");
        }
        assertEquals("0.00/1.50/0.01", MailLog.delays(Duration.ofMillis(-20), Duration.ofMillis(1500), Duration.ofMillis(5)));
    }

    @Test
    void oneMessagesLifeDeferredThenDelivered() {
        log.queued(id, "app@corp.example", 1, 48213, "10.1.2.3", "app1", "TLSv1.3",
                List.of(new SignedBy("corp.example", "s1")));
        log.deferred(id, "a@x.example", ESP, 1, "+1m", "RCPT", "451 4.7.1 Try again later");
        log.delivered(id, "a@x.example", ESP, 2, Duration.ofMillis(61_840),
                MailLog.delays(Duration.ofMillis(310), Duration.ofMillis(420), Duration.ofMillis(1_005)),
                "250 2.0.0 Ok: queued as 9A1B");
        log.queueEvent(id, "removed");
        assertEquals(List.of(
                "7QH3K9M2XC4T intake queued from=<app@corp.example> nrcpt=1 size=48213 client=10.1.2.3 helo=\"app1\""
                        + " tls=TLSv1.3 dkim=corp.example/s1",
                "7QH3K9M2XC4T forward deferred to=<a@x.example> upstream=" + ESP + " attempt=1 next=+1m stage=RCPT"
                        + " reply=\"451 4.7.1 Try again later\"",
                "7QH3K9M2XC4T forward delivered to=<a@x.example> upstream=" + ESP + " attempt=2 delay=61.84s"
                        + " delays=0.31/0.42/1.01 reply=\"250 2.0.0 Ok: queued as 9A1B\"",
                "7QH3K9M2XC4T queue removed"), lines);
    }

    @Test
    void queuedWithoutTlsOrDkimShowsDashes() {
        log.queued(id, "", 2, 10, "127.0.0.1", "host with space", null, List.of());
        assertEquals("7QH3K9M2XC4T intake queued from=<> nrcpt=2 size=10 client=127.0.0.1"
                + " helo=\"host with space\" tls=- dkim=-", lines.get(0));
    }

    /** A message signed twice (rsa and ed25519, or during a key rotation) names both, in order. */
    @Test
    void queuedNamesEverySignature() {
        log.queued(id, "a@corp.example", 1, 10, "127.0.0.1", "h", "", List.of(new SignedBy("example.org", "s2026"),
                new SignedBy("example.org", "e2026")));
        assertEquals("7QH3K9M2XC4T intake queued from=<a@corp.example> nrcpt=1 size=10 client=127.0.0.1"
                + " helo=\"h\" tls=- dkim=example.org/s2026,example.org/e2026", lines.get(0));
    }

    @Test
    void failed() {
        log.failed(id, "c@z.example", ESP, 1, "RCPT", "550 5.1.1 No such user");
        assertEquals("7QH3K9M2XC4T forward failed to=<c@z.example> upstream=" + ESP + " attempt=1 stage=RCPT"
                + " reply=\"550 5.1.1 No such user\"", lines.get(0));
    }

    @Test
    void refusedAtIntakeHasNoQueueId() {
        log.rejected("x@y.example", "z@w.example", "192.0.2.9", Refusal.RELAY_DENIED, "554 5.7.1 Relay access denied");
        log.rejected("x@y.example", "", "192.0.2.9", Refusal.STORAGE_FULL, "452 4.3.1 Insufficient system storage");
        assertEquals(List.of(
                "- intake rejected from=<x@y.example> to=<z@w.example> client=192.0.2.9"
                        + " reply=\"554 5.7.1 Relay access denied\"",
                "- intake rejected from=<x@y.example> to=<> client=192.0.2.9"
                        + " reply=\"452 4.3.1 Insufficient system storage\""), lines);
    }

    @Test
    void adminActions() {
        for (String e : List.of("held", "released", "deleted", "retried", "requeued")) {
            log.queueEvent(id, e);
        }
        assertEquals(List.of("7QH3K9M2XC4T queue held", "7QH3K9M2XC4T queue released", "7QH3K9M2XC4T queue deleted",
                "7QH3K9M2XC4T queue retried", "7QH3K9M2XC4T queue requeued"), lines);
    }

    @Test
    void aWordOutsideTheVocabularyIsAProgrammingError() {
        assertThrows(IllegalArgumentException.class, () -> log.queueEvent(id, "purged"));
        assertEquals(List.of(), lines);
    }

    @Test
    void quarantined() {
        log.quarantined("7QH3K9M2XC4T", "decode: unknown format version 9");
        assertEquals("7QH3K9M2XC4T queue quarantined reason=\"decode: unknown format version 9\"", lines.get(0));
    }

    @Test
    void upstreamPauseLines() {
        log.upstreamPaused("google", "quota", "2026-12-06T10:00:00Z", "550 5.4.5 Daily SMTP relay limit exceeded for user");
        log.upstreamPaused("ms365", "operator", "-", "paused by uid 0");
        log.upstreamResumed("google", "expiry", 12);
        log.upstreamResumed("ms365", "operator", 0);
        assertEquals(List.of(
                "- forward paused name=google cause=quota until=2026-12-06T10:00:00Z reason=\"550 5.4.5 Daily SMTP relay"
                        + " limit exceeded for user\"",
                "- forward paused name=ms365 cause=operator until=- reason=\"paused by uid 0\"",
                "- forward resumed name=google by=expiry retried=12",
                "- forward resumed name=ms365 by=operator retried=0"), lines);
    }

    @Test
    void upstreamLinkAndDsnLines() {
        log.upstreamDown("ses", "smtp.esp.example:587", "connect: connection refused");
        log.upstreamUp("ses", ESP, 42);
        log.dsnQueued(id, new QueueId("7QH3K9M2XC5A"), "app@corp.example");
        log.dsnSkipped(id, "forward_dsn_rate of 60/min reached");
        assertEquals(List.of(
                "- forward down upstream=smtp.esp.example:587 name=ses reason=\"connect: connection refused\"",
                "- forward up upstream=" + ESP + " name=ses retried=42",
                "7QH3K9M2XC4T forward dsn to=<app@corp.example> dsn=7QH3K9M2XC5A",
                "7QH3K9M2XC4T forward dsn-skipped reason=\"forward_dsn_rate of 60/min reached\""), lines);
    }

    @Test
    void delaysAreSecondsWithTwoDecimalsAndNeverNegative() {
        assertEquals("0.00/0.00/0.00", MailLog.delays(Duration.ZERO, Duration.ZERO, Duration.ZERO));
        assertEquals("0.00/1.50/120.00",
                MailLog.delays(Duration.ofSeconds(-3), Duration.ofMillis(1500), Duration.ofMinutes(2)));
    }

    @Test
    void quotedValuesStayOnOneLine() {
        log.failed(id, "c@z.example", ESP, 1, "DATA", "550 \"quoted\" \\ back\r\nsecond line\u0007");
        assertEquals("7QH3K9M2XC4T forward failed to=<c@z.example> upstream=" + ESP + " attempt=1 stage=DATA"
                + " reply=\"550 \\\"quoted\\\" \\\\ back\\r\\nsecond line?\"", lines.get(0));
    }

    @Test
    void pickupLines() {
        log.pickedUp(id, "root@host.example", 2, 481, 1000, "m.1796492189728.23015.fc07", List.of());
        log.pickupRejected("m.1.2.bad", 33, "www-data@host.example", "5.1.3 Bad recipient address syntax: \"a b\"");
        assertEquals(List.of(
                "7QH3K9M2XC4T pickup queued from=<root@host.example> nrcpt=2 size=481 uid=1000"
                        + " file=m.1796492189728.23015.fc07 dkim=-",
                "- pickup rejected file=m.1.2.bad uid=33 from=<www-data@host.example>"
                        + " reason=\"5.1.3 Bad recipient address syntax: \\\"a b\\\"\""), lines);
    }
}
