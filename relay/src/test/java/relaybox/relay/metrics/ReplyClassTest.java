package relaybox.relay.metrics;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplyClassTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "451 4.7.1 Try again later                     | 4xx",
            "421 4.4.2 closing                             | 4xx",
            "550 5.1.1 No such user                        | 5xx",
            "535 5.7.8 Authentication credentials invalid  | 5xx",
            "554                                           | 5xx",
            "DATA end: timeout after 600s                  | timeout",
            "connect: ConnectTimeoutException: connection timed out | timeout",
            "STARTTLS: SSLHandshakeException: PKIX path building failed | tls",
            "STARTTLS: certificate does not match host     | tls",
            "connect: connection refused                   | io",
            "RCPT: ClosedChannelException                  | io",
            "4000 not a reply                              | io",
            "expired after 5d in queue; last reply: 451 4.7.1 later | io",
    })
    void classes(String reply, String expected) {
        String c = RelayMetrics.replyClass(reply);
        assertEquals(expected, c);
        assertTrue(RelayMetrics.REPLY_CLASSES.contains(c));
    }
}
