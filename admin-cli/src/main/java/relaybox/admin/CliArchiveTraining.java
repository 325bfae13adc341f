package relaybox.admin;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The trial run the class-data archive of the short-lived commands is made from (packaging's
 * make-cli-archive, run at package install under {@code -XX:DumpLoadedClassList}): submits one
 * message the way PHP and cron do ({@code -t -i}) and one the way Symfony Mailer and other
 * libraries do ({@code -bs}, SMTP on stdin), each once to a stand-in intake on loopback (the
 * daemon up) and once to a closed port (the daemon down, into a temporary drop directory), so
 * that the archive holds every class of those sendmail paths. Touches nothing of the installed
 * system; prints nothing but a failure.
 */
public final class CliArchiveTraining {

    private CliArchiveTraining() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        Main.logging(new String[] {"sendmail"}, env);
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
        System.exit(failures == 0 ? 0 : 1);
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
