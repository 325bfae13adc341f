package relaybox.relay.metrics;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import relaybox.queue.QueueId;
import relaybox.relay.dkim.MessageSigner.SignedBy;
import relaybox.relay.log.MailEvents;
import relaybox.relay.log.MailLog;
import relaybox.relay.log.Refusal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The metrics and the mail log listen to the same events; neither is built on the other. */
class MailMetricsTest {

    /** Every refusal the intake can give is a reason label of its own, never "other". */
    @ParameterizedTest
    @EnumSource(Refusal.class)
    void everyRefusalIsALabel(Refusal r) {
        assertTrue(RelayMetrics.REFUSAL_REASONS.contains(r.label()), r.label());
        try (RelayMetrics metrics = new RelayMetrics()) {
            new MailMetrics(metrics).rejected("a@b.example", "", "192.0.2.1", r, "whatever the reply said");
            assertEquals(1.0, Scrape.samples(metrics.scrape())
                    .get("relaybox_messages_refused_total{reason=\"" + r.label() + "\"}"));
        }
    }

    @Test
    void eventsAreCountedAndLoggedOnceEach() {
        List<String> lines = new ArrayList<>();
        try (RelayMetrics metrics = new RelayMetrics()) {
            MailEvents events = MailEvents.all(new MailLog(lines::add), new MailMetrics(metrics));
            events.queued(new QueueId("7QH3K9M2XC4T"), "a@b.example", 1, 1234, "127.0.0.1", "h", "",
                    List.of(new SignedBy("corp.example", "s1"), new SignedBy("other.example", "e1")));
            events.queued(new QueueId("7QH3K9M2XC4V"), "a@b.example", 1, 100, "127.0.0.1", "h", "", List.of());
            // The reply's words do not matter: the reason travels with the event.
            events.rejected("a@b.example", "c@d.example", "192.0.2.1", Refusal.RELAY_DENIED, "554 5.7.1 nope");
            events.upstreamDown("ses", "smtp.esp.example:587", "connect: connection refused");
            Map<String, Double> s = Scrape.samples(metrics.scrape());
            assertEquals(2.0, s.get("relaybox_messages_accepted_total"));
            assertEquals(1334.0, s.get("relaybox_intake_bytes_total"));
            assertEquals(1.0, s.get("relaybox_dkim_signed_total{domain=\"corp.example\"}"));
            assertEquals(null, s.get("relaybox_dkim_signed_total{domain=\"other.example\"}"));
            assertEquals(1.0, s.get("relaybox_messages_refused_total{reason=\"relay_denied\"}"));
            // Link state is the dispatcher's to report, not a side effect of a log line.
            assertEquals(Map.of(), metrics.linkStates());
        }
        assertEquals(4, lines.size());
        assertTrue(lines.get(2).startsWith("- intake rejected "), lines.get(2));
        assertTrue(lines.get(2).endsWith("reply=\"554 5.7.1 nope\""), lines.get(2));
    }
}
