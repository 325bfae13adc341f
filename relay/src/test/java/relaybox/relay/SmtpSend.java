package relaybox.relay;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Sends one message over a new connection; returns the final reply line (or throws on a dead server). */
final class SmtpSend {
    private SmtpSend() {
    }

    static String send(int port, String from, String to, byte[] stuffedBody) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(20_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            String greeting = reply(in);
            if (!greeting.startsWith("220")) {
                return greeting;
            }
            out.write(("EHLO it.test\r\nMAIL FROM:<" + from + ">\r\nRCPT TO:<" + to + ">\r\nDATA\r\n")
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            for (int i = 0; i < 3; i++) {
                String r = reply(in);
                if (!r.startsWith("250")) {
                    return r;
                }
            }
            String r = reply(in);
            if (!r.startsWith("354")) {
                return r;
            }
            out.write(stuffedBody);
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return reply(in);
        }
    }

    static String reply(InputStream in) throws IOException {
        while (true) {
            StringBuilder b = new StringBuilder();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    throw new IOException("connection closed");
                }
                b.append((char) c);
            }
            String l = b.toString().trim();
            if (l.length() < 4 || l.charAt(3) != '-') {
                return l;
            }
        }
    }
}
