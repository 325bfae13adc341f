package relaybox.admin;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * {@code sendmail -bs}: the caller speaks SMTP on stdin/stdout and we relay it to the daemon's
 * intake. Owns one promise: every command read from stdin is answered on stdout before we exit,
 * also when stdin ends without QUIT. Half-closing the connection at the end of input (what a
 * plain byte pipe does) lets the daemon close before it has answered commands pipelined behind
 * a final dot, whose reply waits for the queue's fsync; so instead the replies are counted, and
 * the connection is closed only when every command has its reply (with our own QUIT, whose reply
 * the caller never sees, when the caller sent none).
 *
 * <p>Counting: one reply for the greeting, one per command line, none for message lines; after
 * DATA the caller's lines are message lines only if the daemon answered 354, so a DATA line
 * waits for its reply before the next line is read.
 */
final class SmtpOnStdio {

    private final Socket socket;
    private final OutputStream toDaemon;
    private final PrintStream stdout;
    private int expected = 1; // the greeting
    private int answered;
    private int lastCode;
    private boolean closed;
    private boolean swallow;

    private SmtpOnStdio(Socket socket, PrintStream stdout) throws IOException {
        this.socket = socket;
        this.toDaemon = socket.getOutputStream();
        this.stdout = stdout;
    }

    static int run(String host, int port, InputStream stdin, PrintStream stdout, PrintStream stderr,
                   java.nio.file.Path dropDir) {
        try (Socket s = new Socket(Proxy.NO_PROXY)) { // the daemon is local: no proxy selector to set up
            try {
                s.connect(new InetSocketAddress(host, port), SmtpSubmission.CONNECT_TIMEOUT_MS);
            } catch (IOException e) {
                // The daemon is down: serve the dialogue here and keep each message in the drop directory.
                return SmtpOffline.run(dropDir, new BufferedInputStream(stdin, 65536), stdout);
            }
            SmtpOnStdio relay = new SmtpOnStdio(s, stdout);
            // A Runnable class, not relay::readReplies: linking a method reference spins a class
            // at every start unless the class-data archive happens to hold it.
            Thread replies = new Thread(new Runnable() {
                @Override
                public void run() {
                    relay.readReplies();
                }
            }, "sendmail-bs");
            replies.setDaemon(true);
            replies.start();
            relay.relayCommands(new BufferedInputStream(stdin, 65536));
            return Sendmail.EX_OK;
        } catch (IOException e) {
            stderr.println("relaybox sendmail: SMTP session broke: " + e.getMessage());
            return Sendmail.EX_TEMPFAIL;
        }
    }

    private void relayCommands(InputStream in) throws IOException {
        boolean inData = false;
        boolean quit = false;
        byte[] line;
        while ((line = readLine(in)) != null) {
            toDaemon.write(line);
            if (line[line.length - 1] != '\n') {
                // The input ended inside a line: end it, or the daemon would wait for the rest.
                toDaemon.write('\r');
                toDaemon.write('\n');
            }
            toDaemon.flush();
            if (inData) {
                if (isDot(line)) {
                    inData = false;
                    expect();
                }
                continue;
            }
            String verb = verb(line);
            expect();
            if (verb.equals("QUIT")) {
                quit = true;
            } else if (verb.equals("DATA")) {
                inData = awaitAnswers() && lastCode == 354;
            }
        }
        // End of input: every command read gets its answer before we go.
        if (!awaitAnswers() || quit || inData) {
            return;
        }
        synchronized (this) {
            swallow = true;
        }
        toDaemon.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
        toDaemon.flush();
        expect();
        awaitAnswers();
    }

    private synchronized void expect() {
        expected++;
    }

    /** Waits until every command sent has its reply; false when the daemon closed first or timed out. */
    private synchronized boolean awaitAnswers() {
        long deadline = System.currentTimeMillis() + SmtpSubmission.READ_TIMEOUT_MS;
        while (answered < expected && !closed) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                return false;
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return answered >= expected;
    }

    private void readReplies() {
        try {
            InputStream in = new BufferedInputStream(socket.getInputStream());
            byte[] line;
            while ((line = readLine(in)) != null) {
                boolean last = line.length < 4 || line[3] != '-';
                synchronized (this) {
                    if (!swallow) {
                        stdout.write(line, 0, line.length);
                        if (last) {
                            stdout.flush();
                        }
                    }
                    if (last) {
                        answered++;
                        lastCode = code(line);
                        notifyAll();
                    }
                }
            }
        } catch (IOException e) {
            // Closed: whatever was answered has been written.
        } finally {
            synchronized (this) {
                closed = true;
                stdout.flush();
                notifyAll();
            }
        }
    }

    private static int code(byte[] line) {
        if (line.length < 3) {
            return 0;
        }
        try {
            return Integer.parseInt(new String(line, 0, 3, StandardCharsets.US_ASCII));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static boolean isDot(byte[] line) {
        return (line.length == 3 && line[0] == '.' && line[1] == '\r' && line[2] == '\n')
                || (line.length == 2 && line[0] == '.' && line[1] == '\n');
    }

    private static String verb(byte[] line) {
        int n = Math.min(line.length, 16);
        String s = new String(line, 0, n, StandardCharsets.ISO_8859_1).trim();
        int sp = s.indexOf(' ');
        return (sp < 0 ? s : s.substring(0, sp)).toUpperCase(Locale.ROOT);
    }

    /** One line with its LF (the last one may lack it); null at the end of input. */
    private static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(256);
        int c;
        while ((c = in.read()) >= 0) {
            b.write(c);
            if (c == '\n') {
                break;
            }
        }
        return b.size() == 0 ? null : b.toByteArray();
    }
}
