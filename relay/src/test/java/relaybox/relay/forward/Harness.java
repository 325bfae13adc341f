package relaybox.relay.forward;

import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.RetrySchedule;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.intake.TestRig;
import relaybox.relay.log.MailLog;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Wires an in-memory queue, a collecting MailLog and a dispatcher with test timeouts: every
 * protocol timeout is 2s so a hang fails fast, retries come after 100-200ms, probes every 100ms.
 * The mail-log lines, the waits and the closing come from {@link TestRig}.
 */
final class Harness extends TestRig {

    static final RetrySchedule FAST_RETRY =
            new RetrySchedule(Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofDays(5), 0);

    final InMemoryQueue queue = new InMemoryQueue(Clock.systemUTC(), FAST_RETRY);
    final MailLog log = new MailLog(lines::add);
    Dispatcher dispatcher;

    /** A mutable stand-in for UpstreamConfig's long constructor. */
    static final class Up {
        String name = "esp";
        String type = "smtp";
        String host = "localhost";
        int port;
        String tls = "none";
        Path caFile;
        Path authFile;
        Path dir;
        int perConnection = 100;
        int maxConnections = 4;
        double rate;
        List<String> headers = List.of();
        String envelopeSender = "";
        List<String> temporaryReplies = List.of();
        List<String> senderDomains = List.of();
        UpstreamConfig.AuthChoice authMechanism = UpstreamConfig.AuthChoice.AUTO;
        relaybox.relay.config.OAuthConfig oauth;
        List<relaybox.relay.config.SenderLogin> logins = List.of();
        String fromRewrite = "";
        int maxRecipients;
        relaybox.relay.config.Provider provider = relaybox.relay.config.Provider.GENERIC;

        Up(String name, int port) {
            this.name = name;
            this.port = port;
        }

        UpstreamConfig build() {
            return new UpstreamConfig(name, type, host, port, relaybox.relay.config.TlsMode.parse(tls), caFile,
                    authFile, dir, perConnection, maxConnections, rate, headers, envelopeSender, temporaryReplies,
                    senderDomains, authMechanism, oauth, logins, fromRewrite, maxRecipients, provider);
        }
    }

    static ForwardConfig config(int concurrency, UpstreamConfig... ups) {
        Duration t = Duration.ofSeconds(2);
        return new ForwardConfig(concurrency, Duration.ofSeconds(5), Duration.ofSeconds(1), t, t, t, t,
                Duration.ofMillis(100), "relay.test", true, 100, List.of(ups));
    }

    Harness start(ForwardConfig cfg) throws IOException {
        dispatcher = Dispatcher.start(queue, cfg, log);
        return this;
    }

    QueueEntry enqueue(String from, List<String> to, String message) throws QueueException, IOException {
        return enqueue(Envelope.of(from, to), "", message.getBytes(StandardCharsets.UTF_8));
    }

    QueueEntry enqueue(Envelope env, String addedHeaders, byte[] message) throws QueueException, IOException {
        Queue.Incoming in = queue.receive();
        in.body().write(message);
        return queue.accept(in, env, addedHeaders);
    }

    static String message(int i) {
        return "From: app@corp.example\r\nTo: a@x.example\r\nSubject: test " + i + "\r\n\r\nbody " + i + "\r\n";
    }

    @Override
    protected void closeParts() {
        if (dispatcher != null) {
            dispatcher.close();
            assertNull(dispatcher.firstBug(), "unexpected exception in the dispatcher");
        }
        queue.close();
    }
}
