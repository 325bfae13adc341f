package relaybox.relay.intake;

import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailLog;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;

/**
 * Run in a child JVM with a small heap by {@link LargeMessageTest}: starts the intake on a queue
 * ("mapdb DIR" or "memory"), streams a message of the given size to it over a socket, and prints
 * "OK size=N" when it was queued whole. The client streams too, so only the intake could need
 * the message in memory.
 */
public final class LowHeapProbe {

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        Queue queue = args[1].equals("mapdb")
                ? MapDbQueue.open(Path.of(args[2]), 0, RetrySchedule.DEFAULT, Clock.systemUTC())
                : new InMemoryQueue();
        ConfigReader r = ConfigReader.parse("probe", "intake_listen = [\"127.0.0.1:0\"]\n"
                + "intake_hostname = \"relay.test\"\nintake_max_message_size = \"100MiB\"\n");
        IntakeServer server = new IntakeServer(IntakeConfig.from(r), queue, MessageSigner.NONE, new MailLog(l -> { }));
        server.start();
        try (Socket s = new Socket("127.0.0.1", server.boundAddresses().get(0).getPort())) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            expect(in, "220");
            out.write("EHLO probe\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n".getBytes(StandardCharsets.US_ASCII));
            expect(in, "250");
            expect(in, "250");
            expect(in, "250");
            expect(in, "354");
            byte[] head = "Subject: big\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            out.write(head);
            byte[] line = new byte[1000];
            java.util.Arrays.fill(line, (byte) 'q');
            line[998] = '\r';
            line[999] = '\n';
            long sent = head.length;
            while (sent + line.length <= size) {
                out.write(line);
                sent += line.length;
            }
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String reply = expect(in, "250");
            QueueEntry e = queue.list().get(0);
            long stored = 0;
            try (InputStream m = queue.openMessage(e.id())) {
                byte[] buf = new byte[65536];
                for (int n; (n = m.read(buf)) > 0; ) {
                    stored += n;
                }
            }
            long expected = sent + e.addedHeaders().getBytes(StandardCharsets.UTF_8).length;
            if (stored != expected) {
                throw new IllegalStateException("stored " + stored + " bytes, expected " + expected);
            }
            System.out.println("OK size=" + sent + " reply=" + reply + " maxHeap=" + Runtime.getRuntime().maxMemory());
        } finally {
            server.stop();
            queue.close();
        }
    }

    /** Reads one reply (last line) and checks its code. */
    private static String expect(InputStream in, String code) throws Exception {
        while (true) {
            StringBuilder b = new StringBuilder();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    throw new IllegalStateException("connection closed, waiting for " + code);
                }
                b.append((char) c);
            }
            String l = b.toString().trim();
            if (l.length() >= 4 && l.charAt(3) == '-') {
                continue;
            }
            if (!l.startsWith(code)) {
                throw new IllegalStateException("expected " + code + ", got " + l);
            }
            return l;
        }
    }
}
