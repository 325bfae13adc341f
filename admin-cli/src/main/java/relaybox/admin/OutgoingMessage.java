package relaybox.admin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The message sendmail reads on stdin, and its envelope: owns what sendmail does to a message
 * before anyone sees it. The header section is read up front (for -t, Bcc and From); the body
 * stays on stdin and is streamed once, line by line, to whichever sink takes the message (the
 * daemon's SMTP intake or a drop file).
 *
 * <p>Line ends become CRLF (LF-only and lone CR input included, because the intake refuses bare
 * ones), Bcc: fields are removed, a leading mbox "From " line is dropped, and a From: header is
 * added if missing. Date: and Message-ID: are the intake's job. Everything else passes byte for
 * byte (lines are ISO-8859-1 strings, one char per byte).
 */
final class OutgoingMessage {

    /** A line sink: the SMTP connection or the drop file. Lines come without their end, not dot-stuffed. */
    interface Lines {
        void line(String text) throws SmtpSubmission.Failure, IOException;
    }

    final String sender;
    final Set<String> recipients;
    private final List<String> fields;
    private final String firstBodyLine;
    private final LineReader reader;
    private final boolean ended;
    private final boolean ignoreDots;

    private OutgoingMessage(String sender, Set<String> recipients, List<String> fields, String firstBodyLine,
                            LineReader reader, boolean ended, boolean ignoreDots) {
        this.sender = sender;
        this.recipients = recipients;
        this.fields = fields;
        this.firstBodyLine = firstBodyLine;
        this.reader = reader;
        this.ended = ended;
        this.ignoreDots = ignoreDots;
    }

    /** Reads the header section; the body is left on {@code in}. */
    static OutgoingMessage read(SendmailOptions o, InputStream in) throws SmtpSubmission.Failure, IOException {
        LineReader reader = new LineReader(in);
        List<String> fields = new ArrayList<>();
        String firstBodyLine = null;
        boolean ended = false;
        boolean first = true;
        while (true) {
            String line = reader.next();
            if (line == null || (!o.ignoreDots && line.equals("."))) {
                ended = true;
                break;
            }
            if (first && line.startsWith("From ")) {
                first = false;
                continue; // mbox separator, not a header
            }
            first = false;
            if (line.isEmpty()) {
                break;
            }
            if ((line.startsWith(" ") || line.startsWith("\t")) && !fields.isEmpty()) {
                fields.set(fields.size() - 1, fields.get(fields.size() - 1) + "\r\n" + line);
            } else if (isHeaderLine(line)) {
                fields.add(line);
            } else {
                firstBodyLine = line; // no blank line between headers and body
                break;
            }
        }
        String sender = o.sender != null ? o.sender : defaultSender();
        Set<String> rcpts = new LinkedHashSet<>(o.recipients);
        boolean hasFrom = false;
        List<String> kept = new ArrayList<>();
        for (String f : fields) {
            int colon = f.indexOf(':');
            String name = f.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            if (o.extract && (name.equals("to") || name.equals("cc") || name.equals("bcc"))) {
                rcpts.addAll(Addresses.parse(f.substring(colon + 1).replace("\r\n", "")));
            }
            hasFrom |= name.equals("from");
            if (!name.equals("bcc")) {
                kept.add(f);
            }
        }
        if (!hasFrom) {
            kept.add(0, "From: " + fromHeader(o.fullName, sender));
        }
        if (rcpts.isEmpty()) {
            throw new SmtpSubmission.Failure(Sendmail.EX_USAGE, "no recipients (give them as arguments, or use -t"
                    + " with To/Cc/Bcc headers)");
        }
        return new OutgoingMessage(sender, rcpts, kept, firstBodyLine, reader, ended, o.ignoreDots);
    }

    /** Writes the whole message to {@code out}; once only, as the body is read from stdin on the way. */
    void writeTo(Lines out) throws SmtpSubmission.Failure, IOException {
        for (String f : fields) {
            // Folded fields hold their CRLFs; split by hand, as String.split would compile a regex.
            int from = 0;
            for (int end = f.indexOf("\r\n"); end >= 0; end = f.indexOf("\r\n", from)) {
                out.line(f.substring(from, end));
                from = end + 2;
            }
            out.line(f.substring(from));
        }
        out.line("");
        if (firstBodyLine != null) {
            out.line(firstBodyLine);
        }
        while (!ended) {
            String line = reader.next();
            if (line == null || (!ignoreDots && line.equals("."))) {
                break;
            }
            out.line(line);
        }
    }

    /** True when the envelope needs SMTPUTF8. */
    boolean needsUtf8() {
        boolean utf8 = !isAscii(sender);
        for (String r : recipients) {
            utf8 |= !isAscii(r);
        }
        return utf8;
    }

    /** A header field's first line: a name of printable characters other than ':', then ':'. */
    static boolean isHeaderLine(String line) {
        int colon = line.indexOf(':');
        if (colon <= 0) {
            return false;
        }
        for (int i = 0; i < colon; i++) {
            char c = line.charAt(i);
            if (c < '!' || c > '~') {
                return false;
            }
        }
        return true;
    }

    private static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) > 127) {
                return false;
            }
        }
        return true;
    }

    /** Letters, digits, spaces and atext specials only: usable in a phrase without quotes. */
    private static boolean isPhraseAtoms(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || " !#$%&'*+/=?^_`{|}~-".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** From: value for a message without one; a non-ASCII name is RFC 2047 encoded. */
    static String fromHeader(String fullName, String sender) {
        String addr = "<" + sender + ">";
        if (fullName == null || fullName.isBlank()) {
            return sender.isEmpty() ? "<MAILER-DAEMON>" : sender;
        }
        String name;
        if (isAscii(fullName)) {
            name = isPhraseAtoms(fullName) ? fullName
                    : "\"" + fullName.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        } else {
            name = "=?UTF-8?B?" + Base64.getEncoder().encodeToString(fullName.getBytes(StandardCharsets.UTF_8)) + "?=";
        }
        // Header text is handled as ISO-8859-1 bytes; the encoded name is pure ASCII.
        return name + " " + addr;
    }

    /**
     * The caller's user name, bare: the daemon qualifies it with its local_domain (default
     * /etc/mailname, else the host's name), so that the envelope, the From: we add and the
     * daemon's aliases all agree on one domain.
     */
    static String defaultSender() {
        return System.getProperty("user.name", "nobody");
    }

    /** Lines as ISO-8859-1 strings without their end; CRLF, LF and a lone CR all end a line. */
    static final class LineReader {
        private final InputStream in;
        private int pushed = -1;

        LineReader(InputStream in) {
            this.in = in;
        }

        String next() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream(128);
            while (true) {
                int c = pushed >= 0 ? pushed : in.read();
                pushed = -1;
                if (c < 0) {
                    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
                }
                if (c == '\n') {
                    return b.toString(StandardCharsets.ISO_8859_1);
                }
                if (c == '\r') {
                    int d = in.read();
                    if (d != '\n' && d >= 0) {
                        pushed = d;
                    }
                    return b.toString(StandardCharsets.ISO_8859_1);
                }
                b.write(c);
            }
        }
    }
}
