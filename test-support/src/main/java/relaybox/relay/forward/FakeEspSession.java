package relaybox.relay.forward;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One connection to a {@link FakeEsp}: its socket and streams, who authenticated on it, and its
 * SMTP dialogue from the greeting to QUIT: EHLO's offer, STARTTLS, the envelope and reading DATA.
 * The rules answer first, AUTH goes to {@link FakeEspAuth}; the connection's end is FakeEsp's.
 */
final class FakeEspSession {

    private final FakeEsp esp;
    Socket socket;
    InputStream in;
    OutputStream out;
    boolean authed;
    String authUser = "";
    /** The user whose connection count this connection holds, or null. */
    String counted;

    FakeEspSession(FakeEsp esp, Socket s) throws IOException {
        this.esp = esp;
        setSocket(s);
    }

    void setSocket(Socket s) throws IOException {
        socket = s;
        in = new java.io.BufferedInputStream(s.getInputStream());
        out = s.getOutputStream();
    }

    void send(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** A line with its line end, or null at end of stream. */
    byte[] readLine() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            b.write(c);
            if (c == '\n') {
                byte[] line = b.toByteArray();
                if (esp.refuseBareLf && (line.length < 2 || line[line.length - 2] != '\r')) {
                    throw new IOException("bare LF on the wire");
                }
                return line;
            }
        }
        return b.size() == 0 ? null : b.toByteArray();
    }

    /** Greets and answers commands until QUIT or the end of the stream (or a rule ends it). */
    void converse() throws IOException, InterruptedException {
        FakeEspRules rules = esp.rules;
        if (!rules.apply("GREETING", this)) {
            send("220 fake.esp.test ESMTP ready");
        }
        String from = null;
        String mailLine = "";
        List<String> to = new ArrayList<>();
        boolean tls = esp.implicitTls;
        while (true) {
            byte[] raw = readLine();
            if (raw == null) {
                return;
            }
            String line = new String(raw, StandardCharsets.UTF_8).replaceAll("\r?\n$", "");
            esp.commands.add(line);
            String up = line.toUpperCase(Locale.ROOT);
            if (rules.apply(line, this)) {
                if (up.startsWith("MAIL")) {
                    from = null;
                }
                continue;
            }
            if (up.startsWith("EHLO")) {
                send(ehloReply(tls));
            } else if (up.equals("STARTTLS")) {
                send("220 2.0.0 go ahead");
                setSocket(esp.wrap(socket));
                tls = true;
            } else if (esp.auth.answer(line, up, this)) {
                // answered by the AUTH dialogue
            } else if (up.startsWith("MAIL FROM:")) {
                if (esp.requireTls && !tls) {
                    send("530 5.7.0 Must issue a STARTTLS command first");
                } else if (esp.authMechs != null && !authed) {
                    send("530 5.7.0 Authentication required");
                } else {
                    from = line.substring(10).replaceAll("^<([^>]*)>.*$", "$1");
                    mailLine = line;
                    to.clear();
                    send("250 2.1.0 Ok");
                }
            } else if (up.startsWith("RCPT TO:")) {
                if (from == null) {
                    send("503 5.5.1 need MAIL");
                } else if (esp.rcptPerTransaction > 0 && to.size() >= esp.rcptPerTransaction) {
                    esp.tooManyRecipients.incrementAndGet();
                    send(FakeEsp.GOOGLE_TOO_MANY_RECIPIENTS);
                } else {
                    to.add(line.substring(8).replaceAll("^<([^>]*)>.*$", "$1"));
                    send("250 2.1.5 Ok");
                }
            } else if (up.equals("DATA")) {
                if (from == null || to.isEmpty()) {
                    send("554 5.5.1 No valid recipients");
                    continue;
                }
                send("354 End data with <CR><LF>.<CR><LF>");
                ByteArrayOutputStream wire = new ByteArrayOutputStream();
                byte[] data = readData(wire);
                if (esp.endReplyDelayMillis > 0) {
                    Thread.sleep(esp.endReplyDelayMillis);
                }
                if (in.available() > 0) {
                    esp.commandsBeforeEndReply.incrementAndGet();
                }
                if (!rules.apply("DATA_END", this)) {
                    esp.received.add(new FakeEsp.Received(from, List.copyOf(to), data, tls, authUser, mailLine,
                            wire.toByteArray()));
                    send("250 2.0.0 Ok: queued as Q" + esp.queuedAs.incrementAndGet());
                }
                from = null;
                to.clear();
            } else if (up.equals("RSET")) {
                from = null;
                to.clear();
                send("250 2.0.0 Ok");
            } else if (up.equals("NOOP")) {
                send("250 2.0.0 Ok");
            } else if (up.equals("QUIT")) {
                send("221 2.0.0 Bye");
                return;
            } else {
                send("500 5.5.2 Error: command not recognized");
            }
        }
    }

    private String ehloReply(boolean tls) {
        StringBuilder b = new StringBuilder("250-fake.esp.test\r\n");
        if (esp.pipelining) {
            b.append("250-PIPELINING\r\n");
        }
        if (esp.offerStartTls && !tls) {
            b.append("250-STARTTLS\r\n");
        }
        if (esp.authMechs != null) {
            b.append("250-AUTH ").append(esp.authMechs).append("\r\n");
        }
        if (esp.limits != null) {
            b.append("250-LIMITS ").append(esp.limits).append("\r\n");
        }
        if (esp.offerSmtpUtf8) {
            b.append("250-SMTPUTF8\r\n");
        }
        b.append(esp.size < 0 ? "250 8BITMIME" : "250-8BITMIME\r\n250 SIZE" + (esp.size > 0 ? " " + esp.size : ""));
        return b.toString();
    }

    /** The message without dot-stuffing; {@code wire} gets it as sent. The BODY rule runs at the first line. */
    private byte[] readData(ByteArrayOutputStream wire) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        boolean first = true;
        while (true) {
            byte[] l = readLine();
            if (l == null) {
                throw new IOException("closed in DATA");
            }
            if (first) {
                first = false;
                esp.rules.apply("BODY", this);
            }
            if (l.length == 3 && l[0] == '.' && l[1] == '\r' && l[2] == '\n') {
                return data.toByteArray();
            }
            wire.write(l, 0, l.length);
            int off = l.length > 0 && l[0] == '.' ? 1 : 0;
            data.write(l, off, l.length - off);
        }
    }
}
