package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.TlsMode;
import relaybox.relay.config.UpstreamConfig;

import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An upstream that never ends its line (greeting, or a multi-line reply that never ends) must
 * not keep the session's thread busy: the forwarder stops reading at its reply-size bound and
 * closes the session at once, well before any timeout.
 */
class UpstreamEndlessLineTest {

    @Test
    void aNeverEndingLineEndsTheProbeQuickly() throws Exception {
        assertProbeEndsQuickly(new byte[0], filled('x'));
    }

    @Test
    void aNeverEndingMultiLineReplyEndsTheProbeQuickly() throws Exception {
        assertProbeEndsQuickly("220 hi\r\n".getBytes(StandardCharsets.US_ASCII),
                "250-x\r\n".repeat(2000).getBytes(StandardCharsets.US_ASCII));
    }

    private static byte[] filled(char c) {
        byte[] b = new byte[64 << 10];
        Arrays.fill(b, (byte) c);
        return b;
    }

    /** Serves {@code first}, then {@code forever} in a loop until the client goes away. */
    private static void assertProbeEndsQuickly(byte[] first, byte[] forever) throws Exception {
        AtomicLong sent = new AtomicLong();
        try (ServerSocket server = new ServerSocket(0)) {
            Thread t = new Thread(() -> {
                try (Socket s = server.accept(); OutputStream out = s.getOutputStream()) {
                    out.write(first);
                    if (first.length > 0) {
                        // wait for EHLO
                        s.getInputStream().read(new byte[512]);
                    }
                    while (true) {
                        out.write(forever);
                        sent.addAndGet(forever.length);
                    }
                } catch (Exception closed) {
                    // the client closed the connection: what we want
                }
            });
            t.setDaemon(true);
            t.start();
            // The default timeouts (a minute and more): only a bound on the reply can end it quickly.
            UpstreamConfig u = UpstreamConfig.smtp("endless", "127.0.0.1", server.getLocalPort(), TlsMode.NONE);
            long cpu0 = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            List<UpstreamTester.Probe> probes = new UpstreamProbe(ForwardConfig.defaults(List.of(u))).probeAll();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            long cpuMs = (ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - cpu0) / 1_000_000;
            System.out.printf("UpstreamEndlessLineTest: probe ended after %d ms (%d ms CPU), %d KiB read%n",
                    ms, cpuMs, sent.get() >> 10);
            assertFalse(probes.get(0).ok(), probes.toString());
            assertTrue(ms < 10_000, "the probe kept reading an endless reply for " + ms + " ms: " + probes);
            t.join(10_000);
            assertFalse(t.isAlive(), "the upstream connection was not closed");
        }
    }
}
