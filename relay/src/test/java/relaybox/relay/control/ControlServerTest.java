package relaybox.relay.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.ControlConfig;
import relaybox.relay.control.api.ControlClient;
import relaybox.relay.control.api.ControlError;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.log.MailLog;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control socket's file handling and framing, over an in-memory queue. */
class ControlServerTest {

    @TempDir
    Path tmp;
    InMemoryQueue queue;
    ControlService service;
    ControlServer server;
    Path socket;

    @BeforeEach
    void start() throws IOException {
        queue = new InMemoryQueue();
        service = new ControlService(queue, StatusSource.none(Instant.now()), null, null, new MailLog(l -> { }),
                Clock.systemUTC());
        socket = tmp.resolve("run").resolve("control.sock");
        server = new ControlServer(new ControlConfig(socket, ""), service);
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        service.close();
    }

    private ControlReply call(Op op) throws Exception {
        return new ControlClient(socket, Duration.ofSeconds(10)).call(new ControlRequest.Plain(op));
    }

    /** One request line as written, the reply line as read: for what a typed client cannot send. */
    private String callRaw(String line) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
            return new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void socketIsMode0660AndRemovedOnClose() throws Exception {
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        assertFalse(Files.exists(socket.resolveSibling(".control.sock.new")), "temporary name renamed away");
        assertTrue(call(Op.STATUS).ok());
        server.close();
        assertFalse(Files.exists(socket));
        assertThrows(ControlClient.Unreachable.class, () -> call(Op.STATUS));
    }

    @Test
    void aStaleSocketIsReplacedAndALiveOneRefused() throws Exception {
        ControlServer second = new ControlServer(new ControlConfig(socket, ""), service);
        IOException e = assertThrows(IOException.class, second::start);
        assertTrue(e.getMessage().contains("another relaybox daemon is running"), e.getMessage());
        assertTrue(call(Op.STATUS).ok(), "the first server still answers");

        server.close();
        ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        crashed.bind(UnixDomainSocketAddress.of(socket));
        crashed.close(); // the file stays, as after a crash
        assertTrue(Files.exists(socket));
        server = new ControlServer(new ControlConfig(socket, ""), service);
        server.start();
        assertTrue(call(Op.STATUS).ok());
    }

    @Test
    void pauseAndResumeGoToTheForwarderWithTheirDurationAndCaller() throws Exception {
        ControlClient client = new ControlClient(socket, Duration.ofSeconds(10));
        ControlReply r = client.call(new ControlRequest.UpstreamPause("esp", false, "2h"));
        assertEquals(relaybox.relay.control.api.ControlError.NOT_AVAILABLE, r.error(), "offline: no forwarder");
        List<String> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
        service.pauses(new UpstreamPauses() {
            @Override
            public boolean pause(String name, Duration length, String by) {
                asked.add("pause " + name + " " + length + " " + by);
                return name.equals("esp");
            }

            @Override
            public boolean resume(String name, String by) {
                asked.add("resume " + name + " " + by);
                return name.equals("esp");
            }
        });
        assertTrue(client.call(new ControlRequest.UpstreamPause("esp", false, "2h")).ok());
        assertTrue(client.call(new ControlRequest.UpstreamPause("esp", false, "")).ok());
        assertTrue(client.call(new ControlRequest.UpstreamPause("esp", true, "")).ok());
        assertEquals(relaybox.relay.control.api.ControlError.NOT_FOUND,
                client.call(new ControlRequest.UpstreamPause("other", true, "")).error());
        r = client.call(new ControlRequest.UpstreamPause("esp", false, "0s"));
        assertEquals(relaybox.relay.control.api.ControlError.BAD_REQUEST, r.error(), "a pause must last");
        r = client.call(new ControlRequest.UpstreamPause("", false, ""));
        assertEquals(relaybox.relay.control.api.ControlError.BAD_REQUEST, r.error());
        assertTrue(r.message().contains("give the upstream's name"), r.message());
        // The caller as the socket's peer credentials name it, for the audit line.
        String peer = asked.get(0).substring(asked.get(0).indexOf("user="));
        assertEquals(List.of("pause esp PT2H " + peer, "pause esp null " + peer, "resume esp " + peer,
                "resume other " + peer), asked);
    }

    @Test
    void statsWithoutTheHistogramHasEverythingElseTheSame() throws Exception {
        Queue.Incoming in = queue.receive();
        in.body().write("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
        queue.accept(in, Envelope.of("a@x", List.of("b@y")), "");
        ControlClient client = new ControlClient(socket, Duration.ofSeconds(10));
        ObjectNode all = (ObjectNode) client.call(ControlRequest.Stats.ALL).json();
        JsonNode summary = client.call(new ControlRequest.Stats(false)).json();
        assertEquals(1, all.path("histogram").path("states").get(0).path("total").asInt(), all.toString());
        assertTrue(summary.path("histogram").isMissingNode(), summary.toString());
        all.remove("histogram");
        // The oldest entry's age is read from the clock at each call: it may tick between them.
        ((ObjectNode) all.path("oldest")).remove("age");
        ((ObjectNode) summary.path("oldest")).remove("age");
        assertEquals(all, summary);
    }

    @Test
    void retryAsksTheForwarderToProbeNowAndHoldDoesNot() throws Exception {
        java.util.concurrent.atomic.AtomicInteger probes = new java.util.concurrent.atomic.AtomicInteger();
        service.onRetry(probes::incrementAndGet);
        Queue.Incoming in = queue.receive();
        in.body().write("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
        queue.accept(in, Envelope.of("a@x", List.of("b@y")), "");
        ControlRequest hold = ControlRequest.Act.all(Op.HOLD);
        assertTrue(new ControlClient(socket, Duration.ofSeconds(10)).call(hold).ok());
        assertEquals(0, probes.get());
        ControlRequest release = ControlRequest.Act.all(Op.RELEASE);
        assertTrue(new ControlClient(socket, Duration.ofSeconds(10)).call(release).ok());
        ControlRequest.Act retry = ControlRequest.Act.all(Op.RETRY);
        ControlReply r = new ControlClient(socket, Duration.ofSeconds(10)).call(retry);
        assertTrue(r.ok(), r.json().toString());
        assertEquals(1, r.json().path("done").asInt(), r.json().toString());
        assertEquals(1, probes.get());
    }

    @Test
    void retryAllMakesDeferredMailDueNowAndLeavesHeldMailAlone() throws Exception {
        List<QueueId> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Queue.Incoming in = queue.receive();
            in.body().write("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
            ids.add(queue.accept(in, Envelope.of("a@x", List.of("b@y")), "").id());
        }
        Instant now = Instant.now();
        assertEquals(3, queue.leaseDue(now, 3).size());
        for (QueueId id : ids) {
            queue.recordOutcome(id, Map.of("b@y", new DeliveryOutcome.Deferred("451 try later")), now);
        }
        assertEquals(Queue.ActionResult.DONE, queue.hold(ids.get(2)));
        assertEquals(List.of(), queue.leaseDue(now.plusSeconds(1), 10), "deferred: not due for a while");
        ControlRequest.Act retry = ControlRequest.Act.all(Op.RETRY);
        ControlReply r = new ControlClient(socket, Duration.ofSeconds(10)).call(retry);
        assertTrue(r.ok(), r.json().toString());
        assertEquals(2, r.json().path("done").asInt(), r.json().toString());
        assertEquals(2, r.json().path("results").size(), r.json().toString());
        ControlReply counted = new ControlClient(socket, Duration.ofSeconds(10)).call(new ControlRequest.Act(Op.RETRY, List.of(), true, false, true));
        assertEquals(2, counted.json().path("selected").asInt(), counted.json().toString());
        assertEquals(2, counted.json().path("done").asInt(), counted.json().toString());
        assertEquals(0, counted.json().path("results").size(), "a summary lists no entries: " + counted.json());
        List<QueueId> due = queue.leaseDue(Instant.now(), 10).stream().map(QueueEntry::id).toList();
        assertEquals(Set.of(ids.get(0), ids.get(1)), Set.copyOf(due));
        assertEquals(EntryState.HELD, queue.get(ids.get(2)).orElseThrow().state());
    }

    @Test
    void malformedAndUnknownRequestsGetBadRequest() throws Exception {
        String reply = callRaw("this is not json");
        assertTrue(reply.contains("\"error\":\"bad_request\""), reply);
        reply = callRaw("{\"op\":\"frobnicate\"}");
        assertTrue(reply.contains("\"error\":\"bad_request\"") && reply.contains("unknown request \\\"frobnicate\\\""),
                reply);
        reply = callRaw("{\"all\":true}");
        assertTrue(reply.contains("\"error\":\"bad_request\""), "no op: " + reply);
        ControlReply r = call(Op.UPSTREAM_TEST);
        assertEquals(ControlError.NOT_AVAILABLE, r.error(), "no tester wired: " + r.json());
        r = call(Op.CONFIG_SHOW);
        assertEquals(ControlError.NOT_AVAILABLE, r.error());
    }

    @Test
    void rawStreamsTheMessageAfterTheJsonLine() throws Exception {
        Queue.Incoming in = queue.receive();
        in.body().write("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
        var e = queue.accept(in, Envelope.of("a@x", List.of("b@y")), "Received: by test\r\n");
        ControlRequest req = new ControlRequest.Show(e.id().value(), true);
        ControlReply r = new ControlClient(socket, Duration.ofSeconds(10)).call(req);
        assertTrue(r.ok(), r.json().toString());
        try (InputStream raw = r.raw()) {
            assertEquals("Received: by test\r\nSubject: x\r\n\r\nbody\r\n",
                    new String(raw.readAllBytes(), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void controlConfigDefaultsAndErrors() throws Exception {
        ControlConfig d = ControlConfig.from(ConfigReader.empty());
        assertEquals(Path.of("/run/relaybox/control.sock"), d.socket());
        assertEquals("relaybox-ctl", d.group());
        ConfigException e = assertThrows(ConfigException.class,
                () -> ControlConfig.from(ConfigReader.parse("t", "control_socket = \"relative.sock\"")));
        assertTrue(e.getMessage().contains("control_socket"), e.getMessage());
        e = assertThrows(ConfigException.class,
                () -> ControlConfig.from(ConfigReader.parse("t", "control_socket = \"/" + "x".repeat(120) + "\"")));
        assertTrue(e.getMessage().contains("too long"), e.getMessage());
        e = assertThrows(ConfigException.class,
                () -> ControlConfig.from(ConfigReader.parse("t", "control_group = \"bad group\"")));
        assertTrue(e.getMessage().contains("control_group"), e.getMessage());
    }

    @Test
    void eventCounterCountsTheLastMinuteAndHour() {
        EventCounter c = new EventCounter();
        Instant t0 = Instant.parse("2026-11-22T10:00:00Z");
        c.record(t0);
        c.record(t0.plusSeconds(30));
        c.record(t0.plusSeconds(90));
        c.record(t0.plusSeconds(3000));
        Instant now = t0.plusSeconds(3001);
        assertEquals(1, c.lastMinute(now));
        assertEquals(4, c.lastHour(now));
        assertEquals(2, c.lastHour(t0.plusSeconds(3600 + 60)), "the first two fell out of the hour");
        // A slot reused an hour later starts from zero.
        c.record(t0.plusSeconds(3600));
        assertEquals(1, c.countLast(1, t0.plusSeconds(3600)));
    }
}
