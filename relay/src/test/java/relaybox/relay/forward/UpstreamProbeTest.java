package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.TlsMode;
import relaybox.relay.config.UpstreamConfig;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UpstreamProbeTest {

    @Test
    void reportsEachUpstreamWithoutSendingMail(@TempDir Path dir) throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (FakeEsp esp = new FakeEsp().start(); FakeEsp refusing = new FakeEsp().start()) {
            refusing.reply("EHLO", "554 5.7.1 not you", 1);
            ForwardConfig cfg = ForwardConfig.defaults(List.of(
                    UpstreamConfig.smtp("good", "127.0.0.1", esp.port(), TlsMode.NONE),
                    UpstreamConfig.smtp("refusing", "127.0.0.1", refusing.port(), TlsMode.NONE),
                    UpstreamConfig.smtp("down", "127.0.0.1", closed, TlsMode.NONE),
                    UpstreamConfig.outbox(dir)));
            List<UpstreamTester.Probe> probes = new UpstreamProbe(cfg).probeAll();
            assertEquals(List.of("good", "refusing", "down", "outbox"),
                    probes.stream().map(UpstreamTester.Probe::upstream).toList());
            assertTrue(probes.get(0).ok(), probes.get(0).toString());
            assertFalse(probes.get(1).ok());
            // Each step in order; the failed one is the last, with the upstream's literal reply.
            List<UpstreamTester.Step> steps = probes.get(1).steps();
            assertEquals(List.of("connect", "greeting", "ehlo"), steps.stream().map(UpstreamTester.Step::name).toList());
            assertTrue(steps.get(2).detail().contains("554 5.7.1 not you") && !steps.get(2).ok(), steps.toString());
            assertEquals(List.of("connect", "greeting", "ehlo", "limits"),
                    probes.get(0).steps().stream().map(UpstreamTester.Step::name).toList());
            assertFalse(probes.get(2).ok());
            assertTrue(probes.get(2).steps().get(0).detail().contains("connection refused"), probes.get(2).toString());
            assertTrue(probes.get(3).ok(), probes.get(3).toString());
            assertEquals(0, esp.count("MAIL"), "a probe sends no mail");
        }
    }
}
