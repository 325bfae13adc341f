package relaybox.relay.log;

import org.junit.jupiter.api.Test;
import relaybox.queue.QueueId;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The exact text of the forwarder's MailLog lines. */
class ForwardMailLogTest {

    private final List<String> lines = new ArrayList<>();
    private final MailLog log = new MailLog(lines::add);
    private final QueueId id = new QueueId("7QH3K9M2XC4T");
    private final QueueId dsn = new QueueId("7QH3K9M2XC5A");

    @Test
    void lines() {
        log.delivered(id, "a@x.example", "smtp.esp.example[203.0.113.7]:587", 1, Duration.ofMillis(840),
                "0.01/0.30/0.53", "250 2.0.0 Ok: queued as 9A1B");
        log.deferred(id, "b@y.example", "smtp.esp.example[203.0.113.7]:587", 3, "+15m", "RCPT",
                "451 4.7.1 Try again later");
        log.failed(id, "c@z.example", "smtp.esp.example[203.0.113.7]:587", 1, "RCPT", "550 5.1.1 No such user");
        log.upstreamDown("ses", "smtp.esp.example:587", "connect: connection refused");
        log.upstreamUp("ses", "smtp.esp.example[203.0.113.7]:587", 42);
        log.dsnQueued(id, dsn, "app@corp.example");
        log.dsnSkipped(id, "forward_dsn_rate of 60/min reached");
        assertEquals(List.of(
                "7QH3K9M2XC4T forward delivered to=<a@x.example> upstream=smtp.esp.example[203.0.113.7]:587 attempt=1"
                        + " delay=0.84s delays=0.01/0.30/0.53 reply=\"250 2.0.0 Ok: queued as 9A1B\"",
                "7QH3K9M2XC4T forward deferred to=<b@y.example> upstream=smtp.esp.example[203.0.113.7]:587 attempt=3"
                        + " next=+15m stage=RCPT reply=\"451 4.7.1 Try again later\"",
                "7QH3K9M2XC4T forward failed to=<c@z.example> upstream=smtp.esp.example[203.0.113.7]:587 attempt=1"
                        + " stage=RCPT reply=\"550 5.1.1 No such user\"",
                "- forward down upstream=smtp.esp.example:587 name=ses reason=\"connect: connection refused\"",
                "- forward up upstream=smtp.esp.example[203.0.113.7]:587 name=ses retried=42",
                "7QH3K9M2XC4T forward dsn to=<app@corp.example> dsn=7QH3K9M2XC5A",
                "7QH3K9M2XC4T forward dsn-skipped reason=\"forward_dsn_rate of 60/min reached\""), lines);
    }
}
