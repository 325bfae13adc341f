package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.relay.config.ControlConfig;
import relaybox.relay.control.ControlJson;
import relaybox.relay.control.ControlServer;
import relaybox.relay.control.ControlService;
import relaybox.relay.control.StatusSource;
import relaybox.relay.forward.UpstreamTester;
import relaybox.relay.intake.TestRig;
import relaybox.relay.log.MailLog;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A real control server over a real MapDB queue in a temp directory, and a way to run the
 * {@code relaybox} command line against it in process. The status source and upstream tester are
 * fakes the test steers (what the daemon will provide once the lead wires it). The mail log's
 * lines and the closing come from {@link TestRig}.
 */
final class AdminHarness extends TestRig {

    final Path dir;
    final Path socket;
    final MapDbQueue queue;
    final ControlService service;
    final ControlServer server;
    volatile List<StatusSource.Link> links = List.of(new StatusSource.Link("smtp.esp.example:587", "up", "",
            Instant.parse("2026-11-22T10:00:00Z")));
    volatile StatusSource.Throughput throughput = new StatusSource.Throughput(1, 2, 3, 4);
    volatile List<UpstreamTester.Probe> probes = List.of();

    record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    AdminHarness(Path dir) throws Exception {
        this.dir = dir;
        this.socket = dir.resolve("control.sock");
        this.queue = MapDbQueue.open(dir.resolve("queue"), 0, RetrySchedule.DEFAULT, Clock.systemUTC());
        StatusSource status = new StatusSource() {
            @Override
            public Instant startedAt() {
                return Instant.now().minusSeconds(125);
            }

            @Override
            public List<Listener> listeners() {
                return List.of(new Listener("intake", "127.0.0.1:2525"));
            }

            @Override
            public List<Link> links() {
                return links;
            }

            @Override
            public Throughput throughput(Instant now) {
                return throughput;
            }
        };
        this.service = new ControlService(queue, status, () -> probes,
                () -> "queue_dir = \"" + dir + "\"\nforward_password_file = \"(masked)\"\n",
                new MailLog(lines::add), Clock.systemUTC());
        this.server = new ControlServer(new ControlConfig(socket, ""), service);
        server.start();
    }

    QueueEntry accept(String from, String... to) throws QueueException, IOException {
        return accept(queue, from, "Subject: test\r\n\r\nbody\r\n", to);
    }

    static QueueEntry accept(Queue q, String from, String message, String... to) throws QueueException, IOException {
        Queue.Incoming in = q.receive();
        in.body().write(message.getBytes(StandardCharsets.UTF_8));
        return q.accept(in, Envelope.of(from, List.of(to)), "Received: by test\r\n");
    }

    Result run(String... args) {
        return runIn("", args);
    }

    Result runIn(String stdin, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        // Point every client command at this server unless the test names a socket itself.
        if (all.size() >= 1 && !all.contains("--socket") && !all.contains("--offline") && !all.get(0).equals("config")
                && !all.get(0).equals("sendmail")) {
            all.add("--socket");
            all.add(socket.toString());
        }
        return runRaw(stdin, all.toArray(String[]::new));
    }

    Result runRaw(String stdin, String... args) {
        return exec(dir.resolve("no-such.conf"), Map.of(), stdin, args);
    }

    /**
     * The command line in process as an operator's shell runs it against a daemon: the control
     * socket from the environment, no configuration file ({@code none.conf} beside the socket).
     */
    static Result client(Path socket, String stdin, String... args) {
        return exec(socket.resolveSibling("none.conf"), Map.of(ClientOptions.SOCKET_ENV, socket.toString()), stdin,
                args);
    }

    /** The address the daemon behind {@code socket} listens on as {@code name} (intake, metrics). */
    static String listener(Path socket, String name) throws IOException {
        Result status = client(socket, "", "status", "--json");
        for (JsonNode l : ControlJson.MAPPER.readTree(status.out()).get("listeners")) {
            if (l.get("name").asText().equals(name)) {
                return l.get("address").asText();
            }
        }
        throw new AssertionError("no " + name + " listener: " + status);
    }

    static Result exec(Path defaultConfig, Map<String, String> env, String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Cli cli = new Cli(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                env, defaultConfig);
        int code = Main.run(args, cli);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    protected void closeParts() {
        server.close();
        service.close();
        queue.close();
    }
}
