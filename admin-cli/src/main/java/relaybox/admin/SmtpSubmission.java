package relaybox.admin;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A one-message SMTP client for {@link Sendmail}: loopback to our own intake, no TLS, no AUTH
 * (the intake trusts loopback). Owns the dialogue and the mapping of its failures to sysexits;
 * does not read stdin or build the message (the caller streams lines into {@link #line}).
 *
 * <p>Strings are ISO-8859-1 throughout so that every byte of an 8-bit message passes unchanged.
 * Recipients are all-or-nothing: if the intake refuses any RCPT the transaction is abandoned,
 * so the caller never has to guess who got a copy.
 */
final class SmtpSubmission implements AutoCloseable {

    static final int CONNECT_TIMEOUT_MS = 10_000;
    /** The 250 after DATA comes only after the queue's durable commit: allow for a slow disk. */
    static final int READ_TIMEOUT_MS = 120_000;

    /** A refusal or failure, with the sysexits code to exit with. */
    static final class Failure extends Exception {
        final int exit;
        /** The daemon is not there (no connection, 421, gone before the transaction): drop the message instead. */
        final boolean unreachable;

        Failure(int exit, String message) {
            this(exit, message, false);
        }

        Failure(int exit, String message, boolean unreachable) {
            super(message);
            this.exit = exit;
            this.unreachable = unreachable;
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final PrintStream trace;
    private final List<String> extensions = new ArrayList<>();
    /** The daemon offers PIPELINING: commands go out in groups (see {@link #begin}). */
    private boolean pipelining;
    /** QUIT went out behind the final dot; its 221 is still to be read. */
    private boolean quitSent;

    private SmtpSubmission(Socket socket, PrintStream trace) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = new BufferedOutputStream(socket.getOutputStream(), 65536);
        this.trace = trace;
    }

    /** Connects and reads the greeting; {@code trace} (may be null) gets the dialogue for -v. */
    static SmtpSubmission open(String host, int port, String helo, PrintStream trace) throws Failure {
        // NO_PROXY: the daemon is local, and the default proxy selector's set-up (a URI parsed,
        // the SOCKS wrapper) was a measurable part of every sendmail's start.
        Socket s = new Socket(Proxy.NO_PROXY);
        SmtpSubmission c;
        try {
            s.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
            s.setSoTimeout(READ_TIMEOUT_MS);
            c = new SmtpSubmission(s, trace);
        } catch (IOException e) {
            closeQuietly(s);
            throw new Failure(Sendmail.EX_TEMPFAIL, "the relaybox daemon is not reachable on " + host + ":" + port
                    + " (" + e.getMessage() + ")", true);
        }
        try {
            c.expect("greeting", 220);
            String ehlo = c.command("EHLO " + helo);
            if (ehlo.startsWith("250")) {
                // By hand, not String.split: a two-character separator would compile a regex.
                int from = 0;
                while (from <= ehlo.length()) {
                    int end = ehlo.indexOf("\r\n", from);
                    String l = ehlo.substring(from, end < 0 ? ehlo.length() : end);
                    c.extensions.add(l.substring(Math.min(4, l.length())).toUpperCase(Locale.ROOT));
                    from = end < 0 ? ehlo.length() + 1 : end + 2;
                }
            } else {
                check("HELO", c.command("HELO " + helo), 250);
            }
            return c;
        } catch (Failure f) {
            c.close();
            // Before any transaction: a daemon that says 421 or goes away is not there for us.
            boolean gone = f.exit == Sendmail.EX_TEMPFAIL;
            throw new Failure(f.exit, f.getMessage(), gone);
        }
    }

    boolean supports(String ext) {
        for (String e : extensions) {
            if (e.equals(ext) || e.startsWith(ext + " ")) {
                return true;
            }
        }
        return false;
    }

    /**
     * MAIL, every RCPT and DATA; returns once the daemon has said 354. When it offers PIPELINING
     * (our intake does), the three go out in one write and the replies are read after it
     * (RFC 2920): two round trips fewer, each a wake-up of both processes. Every reply is still
     * checked, in order, and mapped as when sent one by one. A 421 to MAIL (the daemon is
     * stopping) is {@link Failure#unreachable}: nothing of the message was taken.
     */
    void begin(String sender, String params, Iterable<String> recipients) throws Failure {
        pipelining = supports("PIPELINING");
        if (!pipelining) {
            send("MAIL FROM:<" + sender + ">" + params);
            flush();
            mail(replyBeforeTransaction());
            try {
                for (String r : recipients) {
                    rcpt(r, command("RCPT TO:<" + r + ">"));
                }
            } catch (Failure f) {
                reset();
                quit();
                throw f;
            }
            check("DATA", command("DATA"), 354);
            return;
        }
        send("MAIL FROM:<" + sender + ">" + params);
        for (String r : recipients) {
            send("RCPT TO:<" + r + ">");
        }
        send("DATA");
        flush();
        // A refused MAIL: its RCPTs and DATA were refused as out of sequence; the caller closes.
        mail(replyBeforeTransaction());
        Failure refused = null;
        for (String r : recipients) {
            String reply = reply();
            if (refused == null) {
                try {
                    rcpt(r, reply);
                } catch (Failure f) {
                    refused = f; // the first refusal is the one reported; the other replies are read all the same
                }
            }
        }
        String data = reply();
        if (refused == null) {
            check("DATA", data, 354);
            return;
        }
        if (code(data) == 354) {
            // The daemon took the other recipients and waits for the message: only closing the
            // connection before the final dot abandons it, with no copy for anyone.
            close();
        } else {
            reset();
            quit();
        }
        throw refused;
    }

    /**
     * MAIL's reply. A daemon that closes the connection instead of answering (it is stopping,
     * and may close before it has read the RCPTs pipelined behind MAIL, which can reset the
     * connection and its 421 with it) has not started the transaction: as unreachable as a 421.
     */
    private String replyBeforeTransaction() throws Failure {
        try {
            return reply();
        } catch (Failure f) {
            throw new Failure(f.exit, "MAIL FROM: " + f.getMessage(), true);
        }
    }

    private static void mail(String reply) throws Failure {
        if (reply.startsWith("421")) {
            // The daemon is stopping: nothing of this message was taken.
            throw new Failure(Sendmail.EX_TEMPFAIL, "MAIL FROM: the daemon is stopping: " + reply, true);
        }
        check("MAIL FROM", reply, 250);
    }

    private static void rcpt(String recipient, String reply) throws Failure {
        check("RCPT TO <" + recipient + ">", reply, 250, 251);
    }

    /** One message line, without its line end; dot-stuffed here (RFC 5321 4.5.2). */
    void line(String text) throws Failure {
        try {
            if (text.startsWith(".")) {
                out.write('.');
            }
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.write('\r');
            out.write('\n');
        } catch (IOException e) {
            throw new Failure(Sendmail.EX_TEMPFAIL, "connection to the daemon broke while sending the message ("
                    + e.getMessage() + ")");
        }
    }

    /**
     * Ends the message; returns the daemon's 250 reply ("250 2.0.0 Ok: queued as ID"), which
     * comes only after the queue's durable commit. With PIPELINING the QUIT goes in the same
     * write (a group may end with QUIT, RFC 2920); the daemon answers it after the 250, so
     * {@link #quit} then only reads the 221 that follows at once.
     */
    String finish() throws Failure {
        send(".");
        if (pipelining) {
            send("QUIT");
            quitSent = true;
        }
        flush();
        String r = reply();
        check("end of DATA", r, 250);
        return r;
    }

    void quit() {
        try {
            if (quitSent) {
                reply();
            } else {
                command("QUIT");
            }
        } catch (Failure ignored) {
            // The message is already queued or abandoned; QUIT is a courtesy.
        }
    }

    void reset() {
        try {
            command("RSET");
        } catch (Failure ignored) {
            // We are giving up anyway.
        }
    }

    private void expect(String stage, int... ok) throws Failure {
        check(stage, reply(), ok);
    }

    private static void check(String stage, String reply, int... ok) throws Failure {
        int code = code(reply);
        for (int c : ok) {
            if (code == c) {
                return;
            }
        }
        String text = reply.replace("\r\n", " / ");
        if (code >= 400 && code < 500 || code < 200) {
            throw new Failure(Sendmail.EX_TEMPFAIL, stage + ": the daemon refused temporarily: " + text);
        }
        int exit = stage.startsWith("RCPT") ? Sendmail.EX_NOUSER
                : stage.startsWith("MAIL") || stage.startsWith("end of DATA") ? Sendmail.EX_DATAERR
                : Sendmail.EX_UNAVAILABLE;
        throw new Failure(exit, stage + ": the daemon refused: " + text);
    }

    private String command(String line) throws Failure {
        send(line);
        flush();
        return reply();
    }

    /** Writes a command line into the buffer; {@link #flush} sends what was written. */
    private void send(String line) throws Failure {
        try {
            if (trace != null) {
                trace.println(">>> " + line);
            }
            out.write(line.getBytes(StandardCharsets.ISO_8859_1));
            out.write('\r');
            out.write('\n');
        } catch (IOException e) {
            throw new Failure(Sendmail.EX_TEMPFAIL, "connection to the daemon broke (" + e.getMessage() + ")");
        }
    }

    private void flush() throws Failure {
        try {
            out.flush();
        } catch (IOException e) {
            throw new Failure(Sendmail.EX_TEMPFAIL, "connection to the daemon broke (" + e.getMessage() + ")");
        }
    }

    /** A whole reply, continuation lines joined with CRLF. */
    private String reply() throws Failure {
        StringBuilder all = new StringBuilder();
        try {
            while (true) {
                StringBuilder l = new StringBuilder();
                int c;
                while ((c = in.read()) >= 0 && c != '\n') {
                    if (c != '\r') {
                        l.append((char) c);
                    }
                }
                if (c < 0 && l.length() == 0) {
                    throw new IOException("connection closed by the daemon");
                }
                if (trace != null) {
                    trace.println("<<< " + l);
                }
                if (all.length() > 0) {
                    all.append("\r\n");
                }
                all.append(l);
                if (l.length() < 4 || l.charAt(3) != '-') {
                    return all.toString();
                }
            }
        } catch (IOException e) {
            throw new Failure(Sendmail.EX_TEMPFAIL, "no answer from the daemon (" + e.getMessage() + ")");
        }
    }

    private static int code(String reply) {
        try {
            return Integer.parseInt(reply.substring(0, 3));
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // Nothing left to do with it.
        }
    }

    @Override
    public void close() {
        closeQuietly(socket);
    }
}
