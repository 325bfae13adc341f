package relaybox.admin;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A line-level SMTP server on a loopback port standing in for the daemon's intake in sendmail
 * tests. Replies can be scripted per command prefix; it records each transaction's envelope and
 * the DATA bytes exactly as they crossed the wire (still dot-stuffed, CRLF line ends).
 */
final class FakeIntake implements AutoCloseable {

    record Transaction(String mailFrom, List<String> rcptTo, String wireData) { }

    final List<Transaction> received = new CopyOnWriteArrayList<>();
    /** Command prefix ("RCPT TO:<bad@", "MAIL", "DATA-END", "GREETING") to the reply to give. */
    final Map<String, String> script = new ConcurrentHashMap<>();
    private final ServerSocket server;
    private final Thread thread;

    FakeIntake() throws IOException {
        server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        thread = new Thread(this::loop, "fake-intake");
        thread.setDaemon(true);
        thread.start();
    }

    String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    private void loop() {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                session(new BufferedInputStream(s.getInputStream()), s.getOutputStream());
            } catch (IOException e) {
                // Next connection (or closed).
            }
        }
    }

    private String reply(String key, String def) {
        for (Map.Entry<String, String> e : script.entrySet()) {
            if (key.startsWith(e.getKey())) {
                return e.getValue();
            }
        }
        return def;
    }

    private void session(InputStream in, OutputStream out) throws IOException {
        send(out, reply("GREETING", "220 fake.test ESMTP"));
        String from = null;
        List<String> rcpts = new CopyOnWriteArrayList<>();
        while (true) {
            String line = readLine(in);
            if (line == null) {
                return;
            }
            String upper = line.toUpperCase(java.util.Locale.ROOT);
            if (upper.startsWith("EHLO")) {
                send(out, reply(line, "250-fake.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING"));
            } else if (upper.startsWith("MAIL FROM:")) {
                from = line;
                rcpts.clear();
                send(out, reply(line, "250 2.1.0 Ok"));
            } else if (upper.startsWith("RCPT TO:")) {
                String r = reply(line, "250 2.1.5 Ok");
                if (r.startsWith("2")) {
                    rcpts.add(line.substring(line.indexOf('<') + 1, line.lastIndexOf('>')));
                }
                send(out, r);
            } else if (upper.equals("DATA")) {
                send(out, "354 End data with <CR><LF>.<CR><LF>");
                ByteArrayOutputStream data = new ByteArrayOutputStream();
                while (true) {
                    String l = readLine(in);
                    if (l == null || l.equals(".")) {
                        break;
                    }
                    data.write((l + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                }
                String r = reply("DATA-END", "250 2.0.0 Ok: queued as 7QH3K9M2XC4T");
                if (r.startsWith("2")) {
                    received.add(new Transaction(from, List.copyOf(rcpts), data.toString(StandardCharsets.ISO_8859_1)));
                }
                send(out, r);
            } else if (upper.equals("RSET")) {
                send(out, "250 2.0.0 Ok");
            } else if (upper.equals("QUIT")) {
                send(out, "221 2.0.0 Bye");
                return;
            } else {
                send(out, "502 5.5.2 Error: command not recognized");
            }
        }
    }

    /** Reads a line; asserts it ended in CRLF by refusing bare LF like the real intake. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                byte[] a = b.toByteArray();
                if (a.length == 0 || a[a.length - 1] != '\r') {
                    throw new IOException("bare LF on the wire");
                }
                return new String(a, 0, a.length - 1, StandardCharsets.ISO_8859_1);
            }
            b.write(c);
        }
        return null;
    }

    private static void send(OutputStream out, String reply) throws IOException {
        out.write((reply + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
