package relaybox.relay.reliability;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A minimal SMTP client for the reliability tests: one connection, EHLO once, then transactions
 * of one recipient whose message carries an {@code X-Test-Id:} header. Replies are returned as
 * the final line's text, so tests can assert on codes. Any I/O failure surfaces as IOException:
 * the caller decides whether the message counts as acknowledged (only a 250 after "." does).
 */
final class SmtpSender implements AutoCloseable {

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    SmtpSender(int port, int timeoutMillis) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), timeoutMillis);
        socket.setSoTimeout(timeoutMillis);
        socket.setTcpNoDelay(true);
        in = new BufferedInputStream(socket.getInputStream());
        out = new BufferedOutputStream(socket.getOutputStream(), 65536);
    }

    /** Reads the greeting and sends EHLO; returns the greeting's final line. */
    String hello() throws IOException {
        String greeting = reply();
        if (!greeting.startsWith("220")) {
            return greeting;
        }
        command("EHLO client.test");
        return greeting;
    }

    String command(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return reply();
    }

    /**
     * One whole transaction. Returns the reply to the end of DATA (or the first refusal).
     * {@code bodySize} bytes of filler are added in lines of 76 characters.
     */
    String send(String id, long bodySize) throws IOException {
        String r = command("MAIL FROM:<app@client.test>");
        if (!r.startsWith("250")) {
            return r;
        }
        r = command("RCPT TO:<someone@example.org>");
        if (!r.startsWith("250")) {
            command("RSET");
            return r;
        }
        r = command("DATA");
        if (!r.startsWith("354")) {
            return r;
        }
        writeMessage(id, bodySize);
        return reply();
    }

    void writeMessage(String id, long bodySize) throws IOException {
        out.write(("From: app@client.test\r\nTo: someone@example.org\r\nSubject: reliability " + id
                + "\r\nX-Test-Id: " + id + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        byte[] line = (id + " 0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                .substring(0, 74).concat("\r\n").getBytes(StandardCharsets.US_ASCII);
        for (long written = 0; written < bodySize; written += line.length) {
            out.write(line);
        }
        out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** The last line of a (multi-line) reply; throws at end of stream. */
    String reply() throws IOException {
        while (true) {
            String line = line();
            if (line == null) {
                throw new IOException("connection closed");
            }
            if (line.length() < 4 || line.charAt(3) != '-') {
                return line;
            }
        }
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(64);
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                String s = b.toString(StandardCharsets.UTF_8);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
        return null;
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
