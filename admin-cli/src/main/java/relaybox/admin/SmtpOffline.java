package relaybox.admin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code sendmail -bs} while the daemon cannot be reached: a minimal SMTP server on stdin/stdout
 * that writes each message into the drop directory ({@link DropWriter}), so a caller that speaks
 * SMTP to sendmail loses no mail either. It answers every command it reads; a message gets its
 * 250 only once its file is durable. It checks little (the daemon validates each file when it
 * takes it in, as it would an SMTP client's message); it owns the dialogue and nothing else.
 */
final class SmtpOffline {

    private final Path dropDir;
    private final PrintStream out;

    private SmtpOffline(Path dropDir, PrintStream out) {
        this.dropDir = dropDir;
        this.out = out;
    }

    /** Serves until QUIT or the end of input; returns the exit code. */
    static int run(Path dropDir, InputStream in, PrintStream out) throws IOException {
        return new SmtpOffline(dropDir, out).serve(in);
    }

    private int serve(InputStream in) throws IOException {
        if (dropDir == null || !Files.isDirectory(dropDir)) {
            reply("421 4.3.0 relaybox daemon not reachable and no drop directory; message NOT queued");
            return Sendmail.EX_TEMPFAIL;
        }
        reply("220 localhost relaybox sendmail ESMTP (daemon not running: mail is kept for it)");
        String sender = null;
        boolean eightBit = false;
        List<String> rcpts = new ArrayList<>();
        String line;
        while ((line = readLine(in)) != null) {
            String upper = line.toUpperCase(Locale.ROOT);
            if (upper.startsWith("EHLO")) {
                reply("250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8");
            } else if (upper.startsWith("HELO")) {
                reply("250 localhost");
            } else if (upper.startsWith("MAIL FROM:")) {
                String a = path(line.substring(10));
                if (a == null) {
                    reply("501 5.5.4 Syntax: MAIL FROM:<address>");
                } else {
                    sender = a;
                    eightBit = upper.contains("BODY=8BITMIME");
                    rcpts.clear();
                    reply("250 2.1.0 Ok");
                }
            } else if (upper.startsWith("RCPT TO:")) {
                String a = path(line.substring(8));
                if (sender == null) {
                    reply("503 5.5.1 Error: need MAIL command");
                } else if (a == null || a.isEmpty()) {
                    reply("501 5.5.4 Syntax: RCPT TO:<address>");
                } else {
                    rcpts.add(a);
                    reply("250 2.1.5 Ok");
                }
            } else if (upper.equals("DATA")) {
                if (sender == null || rcpts.isEmpty()) {
                    reply("554 5.5.1 Error: no valid recipients");
                    continue;
                }
                reply("354 End data with <CR><LF>.<CR><LF>");
                reply(data(in, sender, rcpts, eightBit));
                sender = null;
                rcpts.clear();
            } else if (upper.equals("RSET")) {
                sender = null;
                rcpts.clear();
                reply("250 2.0.0 Ok");
            } else if (upper.equals("NOOP")) {
                reply("250 2.0.0 Ok");
            } else if (upper.equals("QUIT")) {
                reply("221 2.0.0 Bye");
                return Sendmail.EX_OK;
            } else {
                reply("502 5.5.2 Error: command not recognized");
            }
        }
        return Sendmail.EX_OK;
    }

    /** Reads the message up to its final dot into a drop file; the reply to the dot. */
    private String data(InputStream in, String sender, List<String> rcpts, boolean eightBit) throws IOException {
        DropWriter w = null;
        IOException failure = null;
        try {
            w = DropWriter.open(dropDir, sender, rcpts, eightBit);
        } catch (IOException | IllegalArgumentException e) {
            failure = e instanceof IOException io ? io : new IOException(e.getMessage());
        }
        String line;
        while ((line = readLine(in)) != null && !line.equals(".")) {
            if (w != null && failure == null) {
                try {
                    w.line(line.startsWith(".") ? line.substring(1) : line);
                } catch (IOException e) {
                    failure = e;
                }
            }
        }
        try {
            if (line == null) {
                // The input ended inside the message: nothing was promised, nothing is kept.
                return "451 4.3.0 Input ended before the end of the message; message NOT queued";
            }
            if (failure != null) {
                return "451 4.3.0 Cannot write to the drop directory (" + failure.getMessage() + "); message NOT queued";
            }
            try {
                return "250 2.0.0 Ok: kept as " + w.commit() + ", queued when the daemon runs";
            } catch (IOException e) {
                return "451 4.3.0 Cannot write to the drop directory (" + e.getMessage() + "); message NOT queued";
            }
        } finally {
            if (w != null) {
                w.close();
            }
        }
    }

    /** The address in {@code <...>} (with any parameters after it), or null. */
    private static String path(String arg) {
        String a = arg.trim();
        int open = a.indexOf('<');
        int close = a.indexOf('>', open + 1);
        if (open != 0 || close < 0) {
            return null;
        }
        return a.substring(1, close);
    }

    private void reply(String text) {
        out.print(text + "\r\n");
        out.flush();
    }

    /** A line without its end (CRLF or LF) as ISO-8859-1; null at the end of input. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(256);
        int c;
        boolean any = false;
        while ((c = in.read()) >= 0) {
            any = true;
            if (c == '\n') {
                break;
            }
            b.write(c);
        }
        if (!any) {
            return null;
        }
        byte[] bytes = b.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
    }
}
