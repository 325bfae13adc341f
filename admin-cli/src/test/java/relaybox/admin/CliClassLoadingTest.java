package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueId;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.config.ControlConfig;
import relaybox.relay.control.ControlServer;
import relaybox.relay.control.ControlService;
import relaybox.relay.control.StatusSource;
import relaybox.relay.forward.FakeEsp;
import relaybox.relay.log.MailLog;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the client commands and sendmail load, in a fresh JVM as an operator or cron runs them,
 * against a real control socket with a real control service behind it: of relaybox, only the
 * admin commands and the control API package; none of the daemon (config reader, queue, intake,
 * forwarder), James, MapDB or Netty. {@code relaybox run} is the same jar; it alone loads those.
 * Before the control API had its own package, {@code queue list --config FILE} loaded the config
 * reader and with it about 430 Jackson classes (the TOML mapper) to find the socket.
 */
class CliClassLoadingTest {

    /** Packages a client command may load classes from, besides the JDK's. */
    private static final List<String> CLIENT = List.of("relaybox.admin.", "relaybox.relay.control.api.", "picocli.",
            "com.fasterxml.jackson.core.", "com.fasterxml.jackson.databind.");
    /** ... and sendmail: the JDK and its own classes only. */
    private static final List<String> SENDMAIL = List.of("relaybox.admin.");

    /**
     * JDK classes whose set-up sendmail pays for per message and does without: a regular
     * expression (String.split on a two-character separator compiles one), ProcessHandle (its
     * class initialiser starts a thread pool and links lambdas, for a pid that /proc gives).
     */
    private static final List<String> SENDMAIL_COSTLY = List.of("java.util.regex.", "java.lang.ProcessHandleImpl");

    /** An SMTP session on stdin, as Symfony Mailer's default {@code sendmail -bs} speaks it. */
    private static final String SMTP_ON_STDIN = "EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n"
            + "RCPT TO:<b@example.org>\r\nDATA\r\nSubject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n";

    @TempDir
    Path tmp;
    InMemoryQueue queue;
    ControlService service;
    ControlServer server;
    Path config;
    QueueId id;

    @BeforeEach
    void start() throws Exception {
        queue = new InMemoryQueue();
        Queue.Incoming in = queue.receive();
        in.body().write("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
        id = queue.accept(in, Envelope.of("a@example.com", List.of("b@example.org")), "").id();
        service = new ControlService(queue, StatusSource.none(Instant.now()), null, null, new MailLog(l -> { }),
                Clock.systemUTC());
        Path socket = tmp.resolve("control.sock");
        server = new ControlServer(new ControlConfig(socket, ""), service);
        server.start();
        Files.createDirectories(tmp.resolve("drop"));
        config = tmp.resolve("relaybox.conf");
        // As the packages ship it: the client finds the socket in the config file.
        Files.writeString(config, "intake_listen = [\"127.0.0.1:1\"]\ncontrol_socket = \"" + socket + "\"\n"
                + "drop_dir = \"" + tmp.resolve("drop") + "\"\n\n[[upstream]]\nname = \"outbox\"\ntype = \"outbox\"\n"
                + "dir = \"" + tmp.resolve("outbox") + "\"\n");
    }

    @AfterEach
    void stop() {
        server.close();
        service.close();
    }

    @Test
    void queueCommandsStatusAndUpstreamTestLoadOnlyTheControlApi() throws Exception {
        Run list = run("", "queue", "list", "--config", config.toString());
        assertEquals(0, list.code, list.out);
        assertTrue(list.out.contains(id.value()), "lists the entry: " + list.out);
        list.assertOnly(CLIENT);
        Run show = run("", "queue", "show", id.value(), "--config", config.toString());
        assertEquals(0, show.code, show.out);
        show.assertOnly(CLIENT);
        Run hold = run("", "queue", "hold", id.value(), "--config", config.toString());
        assertEquals(0, hold.code, hold.out);
        hold.assertOnly(CLIENT);
        Run status = run("", "status", "--config", config.toString());
        assertEquals(0, status.code, status.out);
        status.assertOnly(CLIENT);
        Run upstream = run("", "upstream", "test", "--config", config.toString());
        assertEquals(Cli.NOT_FOUND, upstream.code, "this control service has no tester: " + upstream.out);
        upstream.assertOnly(CLIENT);
    }

    @Test
    void sendmailLoadsNothingButItsOwnClassesWithTheDaemonUpOrDown() throws Exception {
        Run down = run("Subject: t\n\nhello\n", "sendmail", "--config", config.toString(), "b@example.org");
        assertEquals(0, down.code, down.out);
        try (var files = Files.list(tmp.resolve("drop"))) {
            assertEquals(1, files.count(), "the daemon is down: the message is in the drop directory");
        }
        down.assertOnly(SENDMAIL);
        down.assertNone(SENDMAIL_COSTLY);
        try (FakeEsp intake = new FakeEsp().start()) {
            Run up = run("Subject: t\n\nhello\n", "sendmail", "--smtp", intake.address(), "b@example.org");
            assertEquals(0, up.code, up.out);
            assertEquals(1, intake.received.size(), up.out);
            up.assertOnly(SENDMAIL);
            up.assertNone(SENDMAIL_COSTLY);
            up.assertNoLambdaOfOurs();
        }
        down.assertNoLambdaOfOurs();
    }

    @Test
    void sendmailBsLoadsNothingButItsOwnClassesAndLinksNoLambdaOfItsOwn() throws Exception {
        Run down = run(SMTP_ON_STDIN, "sendmail", "-bs", "--config", config.toString());
        assertEquals(0, down.code, down.out);
        assertTrue(down.out.contains("250 2.0.0 Ok: kept as m."), down.out);
        down.assertOnly(SENDMAIL);
        down.assertNone(SENDMAIL_COSTLY);
        down.assertNoLambdaOfOurs();
        try (FakeEsp intake = new FakeEsp().start()) {
            Run up = run(SMTP_ON_STDIN, "sendmail", "-bs", "--smtp", intake.address());
            assertEquals(0, up.code, up.out);
            assertEquals(1, intake.received.size(), up.out);
            up.assertOnly(SENDMAIL);
            up.assertNone(SENDMAIL_COSTLY);
            // Linking a lambda or method reference spins a class at every start (the JDK's own
            // sockets already pay for the machinery): the reply reader is a plain Runnable.
            up.assertNoLambdaOfOurs();
        }
    }

    private Run run(String stdin, String... args) throws Exception {
        Path log = Files.createTempFile(tmp, "classes", ".log");
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path in = Files.createTempFile(tmp, "in", ".txt");
        Files.writeString(in, stdin);
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "-Xlog:class+load=info:file=" + log, "-cp", cp,
                "relaybox.admin.Main"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectInput(in.toFile()).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", args) + " did not end");
        List<String> loaded = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            // "[0.051s][info][class,load] relaybox.admin.Main source: file:/..."
            int at = line.indexOf("[class,load] ");
            if (at >= 0) {
                String rest = line.substring(at + "[class,load] ".length());
                loaded.add(rest.substring(0, rest.indexOf(' ')));
            }
        }
        assertTrue(loaded.contains("relaybox.admin.Main"), "the log is of this run: " + loaded.size() + " classes");
        return new Run(p.exitValue(), Files.readString(out), loaded, String.join(" ", args));
    }

    private record Run(int code, String out, List<String> loaded, String what) {
        /** Every class loaded is the JDK's or from one of {@code allowed}. */
        void assertOnly(List<String> allowed) {
            List<String> foreign = loaded.stream()
                    .filter(c -> !(c.startsWith("java.") || c.startsWith("javax.") || c.startsWith("jdk.")
                            || c.startsWith("sun.") || c.startsWith("com.sun.")))
                    .filter(c -> allowed.stream().noneMatch(c::startsWith))
                    .toList();
            assertEquals(List.of(), foreign, what + " loaded classes outside " + allowed);
        }

        /** No lambda or method reference of relaybox's was linked. */
        void assertNoLambdaOfOurs() {
            List<String> found = loaded.stream().filter(c -> c.startsWith("relaybox.") && c.contains("$$Lambda")).toList();
            assertEquals(List.of(), found, what + " linked lambdas of its own");
        }

        /** No class loaded is from one of {@code costly}. */
        void assertNone(List<String> costly) {
            List<String> found = loaded.stream().filter(c -> costly.stream().anyMatch(c::startsWith)).toList();
            assertEquals(List.of(), found, what + " loaded classes it should do without");
        }
    }
}
