package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.TlsMode;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.intake.UpstreamFacts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The SIZE each upstream advertised, kept across restarts in the queue directory, and the limit
 * the intake takes from it: the largest among a sender's route, less the upstream's extra headers.
 */
class UpstreamSizesTest {

    @TempDir
    Path dir;

    private static UpstreamConfig up(String name, int port, List<String> headers, List<String> domains) {
        UpstreamConfig u = UpstreamConfig.smtp(name, "127.0.0.1", port, TlsMode.NONE);
        return new UpstreamConfig(name, "smtp", u.host(), port, TlsMode.NONE, null, null, null, 100, 4, 0, headers, "",
                List.of(), domains, u.authMechanism(), null);
    }

    @Test
    void theLastSizeIsKeptAcrossRestartsAndForgottenWhenNoLongerAdvertised() throws Exception {
        UpstreamConfig a = up("a", 2525, List.of(), List.of());
        UpstreamSizes s = UpstreamSizes.open(dir);
        assertEquals(0, s.limit(a));
        s.seen(a, "1000");
        assertEquals(1000, UpstreamSizes.open(dir).limit(a));
        // Another host under the same name is not the same upstream.
        assertEquals(0, UpstreamSizes.open(dir).limit(up("a", 2526, List.of(), List.of())));
        s.seen(a, "0");
        assertEquals(0, UpstreamSizes.open(dir).limit(a));
        s.seen(a, "2000");
        s.seen(a, null);
        assertEquals(0, UpstreamSizes.open(dir).limit(a));
        Files.writeString(dir.resolve(UpstreamSizes.FILE), "garbage \\u12");
        assertEquals(0, UpstreamSizes.open(dir).limit(a), "an unreadable file costs only the memory");
    }

    @Test
    void theIntakeGetsTheLargestOfTheSendersRouteLessExtraHeaders() {
        UpstreamConfig main = up("main", 1, List.of("X-A: 12345678"), List.of());     // 15 bytes with CRLF
        UpstreamConfig failover = up("failover", 2, List.of(), List.of());
        UpstreamConfig routed = up("routed", 3, List.of(), List.of("special.example"));
        UpstreamSizes s = UpstreamSizes.open(dir);
        IntakeView v = new IntakeView(ForwardConfig.defaults(List.of(main, failover, routed)), s);
        assertEquals(UpstreamFacts.Limit.NONE, v.limitFor("a@x.example"), "nothing advertised yet");
        s.seen(main, "1000");
        assertEquals(UpstreamFacts.Limit.NONE, v.limitFor("a@x.example"), "failover has no known limit");
        s.seen(failover, "900");
        assertEquals(new UpstreamFacts.Limit(985, "main"), v.limitFor("a@x.example"));
        assertEquals(UpstreamFacts.Limit.NONE, v.limitFor("a@special.example"));
        s.seen(routed, "500");
        assertEquals(new UpstreamFacts.Limit(500, "routed"), v.limitFor("a@special.example"));
        assertEquals(985, v.largestMessage());
    }
}
