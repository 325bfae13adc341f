package relaybox.admin;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueException;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

/**
 * The trial runs the class-data archives of the short-lived commands are made from (packaging's
 * make-cli-archive, run at package install under {@code -XX:DumpLoadedClassList}), one per
 * archive, named by the first argument:
 * <ul>
 * <li>{@code sendmail}: submits one message the way PHP and cron do ({@code -t -i}) and one the
 * way Symfony Mailer and other libraries do ({@code -bs}, SMTP on stdin), each once to a
 * stand-in intake on loopback (the daemon up) and once to a closed port (the daemon down, into a
 * temporary drop directory), so that sendmail's archive holds every class of those paths and
 * little else: an archive with the other commands' classes too (2.5 times the size) made each
 * sendmail 10 ms slower (105 ms against 95, median of 20).</li>
 * <li>{@code commands}: the same (mailq is {@code sendmail -bp}), then lists a temporary queue
 * store holding one message with {@code queue list --offline}, as text and as JSON. That loads
 * picocli, logback, MapDB and Jackson, about 2,900 classes; without them in an archive, the
 * first line of {@code queue list --offline} at 1,000,000 entries took 1.3-1.5 s, with them
 * 0.8-0.9 s.</li>
 * </ul>
 * Touches nothing of the installed system; prints nothing but a failure.
 */
public final class CliArchiveTraining {

    private CliArchiveTraining() {
    }

    public static void main(String[] args) throws Exception {
        String kind = args.length == 1 ? args[0] : "";
        if (!kind.equals("sendmail") && !kind.equals("commands")) {
            System.err.println("usage: CliArchiveTraining sendmail|commands");
            System.exit(2);
        }
        Map<String, String> env = System.getenv();
        // The offline open logs "queue opened" at INFO; the package's install must print nothing.
        System.setProperty("relaybox.log.level", "WARN");
        Main.logging(new String[] {kind}, env);
        int failures = sendmailPaths(env);
        if (kind.equals("commands")) {
            failures += offlineListing(env);
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    private static int sendmailPaths(Map<String, String> env) throws IOException, InterruptedException {
        Path drop = Files.createTempDirectory("relaybox-cds");
        int failures = 0;
        try (ServerSocket intake = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread server = new FakeIntake(intake, 2);
            server.setDaemon(true);
            server.start();
            failures += sendmail(intake.getLocalPort(), drop, env, false);
            failures += sendmail(intake.getLocalPort(), drop, env, true);
            server.join(10_000);
            int closed;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                closed = s.getLocalPort();
            }
            failures += sendmail(closed, drop, env, false);
            failures += sendmail(closed, drop, env, true);
        } finally {
            try (var files = Files.newDirectoryStream(drop)) {
                for (Path f : files) {
                    Files.delete(f);
                }
            }
            Files.delete(drop);
        }
        return failures;
    }

    private static int offlineListing(Map<String, String> env) throws IOException {
        Path dir = Files.createTempDirectory("relaybox-cds-queue");
        try {
            try (MapDbQueue queue = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
                Queue.Incoming in = queue.receive();
                in.body().write("Subject: class-data archive\r\n\r\ntraining run\r\n".getBytes(StandardCharsets.US_ASCII));
                queue.accept(in, Envelope.of("root@localhost", List.of("root@localhost")), "");
            } catch (QueueException e) {
                System.err.println("relaybox: the class-data archive's trial queue failed: " + e.getMessage());
                return 1;
            }
            for (boolean json : new boolean[] {false, true}) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
                List<String> args = new ArrayList<>(List.of("queue", "list", "--offline", "--queue-dir",
                        dir.toString()));
                if (json) {
                    args.add("--json");
                }
                int code = Main.run(args.toArray(String[]::new),
                        new Cli(InputStream.nullInputStream(), print, print, env, Cli.DEFAULT_CONFIG));
                if (code != Cli.OK || !out.toString(StandardCharsets.UTF_8).contains("root@localhost")) {
                    System.err.println("relaybox: the class-data archive's trial listing failed (" + code + "): " + out);
                    return 1;
                }
            }
            return 0;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    private static int sendmail(int port, Path drop, Map<String, String> env, boolean smtpOnStdin) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(out, true, StandardCharsets.UTF_8);
        String mode = smtpOnStdin ? "-bs" : "-t";
        String input = smtpOnStdin
                ? "EHLO training\r\nMAIL FROM:<root@localhost>\r\nRCPT TO:<root@localhost>\r\nDATA\r\n"
                        + "Subject: class-data archive\r\n\r\ntraining run\r\n.\r\nQUIT\r\n"
                : "To: root@localhost\nSubject: class-data archive\n\ntraining run\n";
        int code = Sendmail.run(new String[] {mode, "-i", "--smtp", "127.0.0.1:" + port, "--drop-dir", drop.toString()},
                new ByteArrayInputStream(input.getBytes(StandardCharsets.US_ASCII)), err, err, env, Cli.DEFAULT_CONFIG);
        if (code != Sendmail.EX_OK) {
            System.err.println("relaybox: the class-data archive's trial run failed (" + code + "): " + out);
            return 1;
        }
        return 0;
    }

    /** Just enough of an SMTP intake for a few sessions of one message each. */
    private static final class FakeIntake extends Thread {
        private final ServerSocket listener;
        private final int sessions;

        FakeIntake(ServerSocket listener, int sessions) {
            super("cds-intake");
            this.listener = listener;
            this.sessions = sessions;
        }

        @Override
        public void run() {
            for (int i = 0; i < sessions; i++) {
                session();
            }
        }

        private void session() {
            try (Socket s = listener.accept();
                 BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(),
                         StandardCharsets.ISO_8859_1))) {
                OutputStream out = s.getOutputStream();
                say(out, "220 training ESMTP");
                boolean data = false;
                String line;
                while ((line = in.readLine()) != null) {
                    if (data) {
                        if (line.equals(".")) {
                            data = false;
                            say(out, "250 2.0.0 Ok: queued as TRAINING");
                        }
                    } else if (line.startsWith("EHLO")) {
                        say(out, "250-training\r\n250-8BITMIME\r\n250 SMTPUTF8");
                    } else if (line.equals("DATA")) {
                        data = true;
                        say(out, "354 End data with <CR><LF>.<CR><LF>");
                    } else if (line.equals("QUIT")) {
                        say(out, "221 2.0.0 Bye");
                        return;
                    } else {
                        say(out, "250 2.0.0 Ok");
                    }
                }
            } catch (IOException e) {
                // The client reports the failure.
            }
        }

        private static void say(OutputStream out, String reply) throws IOException {
            out.write((reply + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }
    }
}
