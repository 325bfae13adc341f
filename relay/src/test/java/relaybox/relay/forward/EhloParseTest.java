package relaybox.relay.forward;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The EHLO reply parser, including the reply without any text that UpstreamReplyFuzzTest found. */
class EhloParseTest {

    @Test
    void replyWithoutAnyTextLineOffersNothing() {
        Ehlo e = Ehlo.parse(new UpstreamReply(250, List.of()), 100);
        assertEquals(Map.of(), e.extensions());
        assertEquals(100, e.maxTransactions());
        assertEquals(0, e.rcptMax());
    }

    @Test
    void extensionsAndLimitsAreRead() {
        Ehlo e = Ehlo.parse(new UpstreamReply(250, List.of("esp.example", "PIPELINING",
                "AUTH PLAIN LOGIN", "LIMITS MAILMAX=10 RCPTMAX=50 BOGUS=x")), 100);
        assertEquals("PLAIN LOGIN", e.extensions().get("AUTH"));
        assertEquals(10, e.maxTransactions());
        assertEquals(50, e.rcptMax());
    }
}
