import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * Benchmark client for one-at-a-time latency: sends N small messages over one SMTP connection,
 * each with "X-Bench-Id: i", waiting for each 250 before the next, and writes "i epoch-nanos of
 * the 250" lines; the sink writes the arrival times. Usage: java LatencyClient.java HOST PORT N OUT
 */
public class LatencyClient {
    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[2]);
        StringBuilder out = new StringBuilder();
        try (Socket s = new Socket(a[0], Integer.parseInt(a[1]))) {
            s.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream o = s.getOutputStream();
            reply(in);
            send(o, "EHLO bench\r\n");
            reply(in);
            for (int i = 0; i < n; i++) {
                send(o, "MAIL FROM:<bench@example.com>\r\n");
                reply(in);
                send(o, "RCPT TO:<sink@example.net>\r\n");
                reply(in);
                send(o, "DATA\r\n");
                reply(in);
                send(o, "From: bench@example.com\r\nTo: sink@example.net\r\nSubject: latency " + i
                        + "\r\nX-Bench-Id: " + i + "\r\n\r\nhello\r\n.\r\n");
                String r = reply(in);
                Instant now = Instant.now();
                if (!r.startsWith("250")) {
                    throw new IllegalStateException("message " + i + ": " + r);
                }
                out.append(i).append(' ').append(now.getEpochSecond() * 1_000_000_000L + now.getNano()).append('\n');
            }
            send(o, "QUIT\r\n");
        }
        Files.writeString(Path.of(a[3]), out);
    }

    static void send(OutputStream o, String s) throws Exception {
        o.write(s.getBytes(StandardCharsets.US_ASCII));
        o.flush();
    }

    static String reply(BufferedReader in) throws Exception {
        String l;
        do {
            l = in.readLine();
            if (l == null) {
                throw new IllegalStateException("connection closed");
            }
        } while (l.length() > 3 && l.charAt(3) == '-');
        return l;
    }
}
