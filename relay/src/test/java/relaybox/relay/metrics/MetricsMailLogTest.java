package relaybox.relay.metrics;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import relaybox.queue.QueueId;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsMailLogTest {

    /** Every refusal the intake logs today, with its literal reply, and the reason it counts as. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "554 5.7.1 <c@d.example>: Relay access denied                          | relay_denied",
            "552 5.3.4 Message size exceeds fixed limit                            | size",
            "452 4.3.1 Insufficient system storage, try again later                | storage_full",
            "451 4.3.0 Local error in processing, try again later                  | storage_error",
            "550 5.6.0 Message refused: lines must end with CRLF (bare CR or LF found) | bad_input",
            "550 5.7.1 Message refused: it cannot be signed                        | signing",
            "451 4.3.0 Message cannot be signed now, try again later               | signing",
            "535 5.7.8 Authentication credentials invalid                          | auth",
            "421 4.3.2 relay.example Service shutting down                         | other",
    })
    void intakeRepliesMapToReasons(String reply, String reason) {
        assertEquals(reason, RelayMetrics.refusalReason(reply));
        assertTrue(RelayMetrics.REFUSAL_REASONS.contains(reason));
    }

    @Test
    void loggedEventsAreCountedAndStillLogged() {
        List<String> lines = new ArrayList<>();
        try (RelayMetrics metrics = new RelayMetrics()) {
            MetricsMailLog log = new MetricsMailLog(metrics, lines::add);
            log.queued(new QueueId("7QH3K9M2XC4T"), "a@b.example", 1, 1234, "127.0.0.1", "h", "", "corp.example/s1");
            log.queued(new QueueId("7QH3K9M2XC4V"), "a@b.example", 1, 100, "127.0.0.1", "h", "", "");
            log.rejected("a@b.example", "c@d.example", "192.0.2.1", "554 5.7.1 <c@d.example>: Relay access denied");
            log.upstreamDown("ses", "smtp.esp.example:587", "connect: connection refused");
            Map<String, Double> s = Scrape.samples(metrics.scrape());
            assertEquals(2.0, s.get("relaybox_messages_accepted_total"));
            assertEquals(1334.0, s.get("relaybox_intake_bytes_total"));
            assertEquals(1.0, s.get("relaybox_dkim_signed_total{domain=\"corp.example\"}"));
            assertEquals(1.0, s.get("relaybox_messages_refused_total{reason=\"relay_denied\"}"));
            assertEquals(1.0, s.get("relaybox_upstream_link_state{state=\"down\",upstream=\"ses\"}"));
            log.upstreamUp("ses", "smtp.esp.example[203.0.113.7]:587", 3);
            assertEquals(Map.of("ses", LinkState.UP), metrics.linkStates());
        }
        assertEquals(5, lines.size());
        assertTrue(lines.get(2).startsWith("- intake rejected "), lines.get(2));
    }
}
