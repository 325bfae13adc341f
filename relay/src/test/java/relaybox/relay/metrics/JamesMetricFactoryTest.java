package relaybox.relay.metrics;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class JamesMetricFactoryTest {

    @Test
    void commandTimersBecomeOneHistogramWithBoundedLabels() {
        try (RelayMetrics metrics = new RelayMetrics()) {
            JamesMetricFactory f = new JamesMetricFactory(metrics);
            f.timer("SMTP-MAIL").stopAndPublish();
            f.timer("SMTP-mail").stopAndPublish();
            f.timer("SMTP-XYZZY-chosen-by-a-client").stopAndPublish();
            f.decorateSupplierWithTimerMetric("SMTP-RCPT", () -> 1);
            Map<String, Double> s = Scrape.samples(metrics.scrape());
            assertEquals(2.0, s.get("relaybox_intake_command_seconds_count{command=\"mail\"}"));
            assertEquals(1.0, s.get("relaybox_intake_command_seconds_count{command=\"rcpt\"}"));
            assertEquals(1.0, s.get("relaybox_intake_command_seconds_count{command=\"other\"}"));
            assertNull(s.get("relaybox_intake_command_seconds_count{command=\"xyzzy-chosen-by-a-client\"}"));
        }
    }

    @Test
    void generatedMetricsCount() {
        try (RelayMetrics metrics = new RelayMetrics()) {
            var m = new JamesMetricFactory(metrics).generate("x");
            m.increment();
            m.add(3);
            m.remove(1);
            assertEquals(3, m.getCount());
        }
    }
}
