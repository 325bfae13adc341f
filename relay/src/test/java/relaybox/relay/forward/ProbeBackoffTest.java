package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A refused login backs off instead of being retried every probe interval, and fixing the
 * secrets file is noticed at once (real time, 100 ms probe interval: the backoff reaches seconds
 * within the test, which a probe every interval would not).
 */
class ProbeBackoffTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;
    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    @Test
    void aRefusedLoginBacksOffAndAChangedAuthFileProbesAtOnce() throws Exception {
        esp.authMechs = "PLAIN";
        esp.password = "the-right-one";
        esp.start();
        Path secret = tmp.resolve("auth");
        Files.writeString(secret, "username=user\npassword=wrong\n");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Harness.Up u = new Harness.Up("esp", esp.port());
        u.authFile = secret;
        h.start(Harness.config(1, u.build()));
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("the login refused", WAIT, () -> esp.count("AUTH") >= 1 && !h.dispatcher.isUp("esp"));

        // Seven seconds: a probe every 100 ms would be 70 logins; doubling from 100 ms, logins at
        // 0, 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s, and the next not before 12.7 s.
        Thread.sleep(7000);
        long logins = esp.count("AUTH");
        assertTrue(logins >= 4 && logins <= 8, "logins in 7 s: " + logins);
        LinkView link = h.dispatcher.links().get(0);
        assertTrue(link.backingOff() && link.reason().startsWith("535"), link.toString());
        assertFalse(h.dispatcher.isUp("esp"));
        assertEquals(1, h.linesWith(" forward down ").size(), "the outage is logged once: " + h.lines);

        // The operator fixes the secrets file: the next prober tick (20 ms) notices it, seconds
        // before the backoff would have probed again.
        Files.writeString(secret, "username=user\npassword=the-right-one\n");
        h.await("delivered after the fix", Duration.ofSeconds(4), () -> esp.received.size() == 1);
        assertTrue(h.dispatcher.isUp("esp"));
    }
}
