package relaybox.relay.intake;

import relaybox.relay.local.HeaderQualifier;
import relaybox.relay.local.LocalNames;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the envelope of one drop file, as {@code relaybox sendmail} writes it when the daemon is
 * down, and checks it as MAIL and RCPT check an SMTP client's. The format (version 1):
 * <pre>
 * relaybox-drop 1\n
 * sender ADDRESS\n          (empty for the null sender)
 * rcpt ADDRESS\n            (one line per recipient, at least one)
 * body 8BITMIME\n           (optional)
 * \n
 * message bytes, CRLF lines, not dot-stuffed
 * </pre>
 * Addresses are UTF-8. The message is streamed by {@link #copyMessage}, which makes sure every
 * line ends in CRLF (a file is local input, so a bare LF is normalised here as for a trusted
 * SMTP client).
 *
 * @param sender     the qualified sender ("" for the null sender), or null if the file has none
 * @param recipients the recipients, qualified and aliased
 * @param invalid    why the file is refused ("5.1.3 ..."), or null when it is valid
 */
record DropFile(String sender, List<String> recipients, boolean eightBit, boolean smtputf8, String invalid) {

    static final String MAGIC = "relaybox-drop 1";
    private static final int MAX_ENVELOPE = 1 << 20;

    static DropFile read(InputStream in, LocalNames names, int maxRecipients) throws IOException {
        String first = line(in);
        if (!MAGIC.equals(first)) {
            return bad(null, "5.6.0 not a relaybox drop file (first line " + abbreviate(first) + ")");
        }
        String sender = null;
        boolean eightBit = false;
        List<String> rcpts = new ArrayList<>();
        int read = first.length();
        int given = 0;
        while (true) {
            String l = line(in);
            if (l == null) {
                return bad(sender, "5.6.0 the file ends inside its envelope");
            }
            read += l.length() + 1;
            if (read > MAX_ENVELOPE) {
                return bad(sender, "5.6.0 envelope too long");
            }
            if (l.isEmpty()) {
                break;
            }
            if (l.startsWith("sender ")) {
                String s = l.substring(7);
                sender = LocalNames.isBare(s) ? names.qualify(s) : s;
                if (!sender.isEmpty() && !SmtpPath.isMailbox(sender)) {
                    String shown = sender;
                    return bad(null, "5.1.7 Bad sender address syntax: " + abbreviate(shown));
                }
            } else if (l.startsWith("rcpt ")) {
                String r = names.qualify(l.substring(5));
                if (!SmtpPath.isMailbox(r)) {
                    return bad(sender, "5.1.3 Bad recipient address syntax: " + abbreviate(r));
                }
                if (++given > maxRecipients) {
                    return bad(sender, "5.5.3 too many recipients (intake_max_recipients)");
                }
                for (String a : names.expand(r)) {
                    if (!rcpts.contains(a)) {
                        rcpts.add(a);
                    }
                }
            } else if (l.equals("body 8BITMIME")) {
                eightBit = true;
            } else {
                return bad(sender, "5.6.0 unknown envelope line " + abbreviate(l));
            }
        }
        if (sender == null) {
            return bad(null, "5.1.7 no sender line");
        }
        if (rcpts.isEmpty()) {
            return bad(sender, "5.5.1 no recipients");
        }
        boolean utf8 = !SmtpPath.isAscii(sender) || rcpts.stream().anyMatch(r -> !SmtpPath.isAscii(r));
        return new DropFile(sender, List.copyOf(rcpts), eightBit, utf8, null);
    }

    private static DropFile bad(String sender, String why) {
        return new DropFile(sender, List.of(), false, false, why);
    }

    /** One LF-terminated UTF-8 line without its end; null at the end of input. Bounded by MAX_ENVELOPE. */
    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            if (b.size() >= MAX_ENVELOPE) {
                break;
            }
            b.write(c);
        }
        if (c < 0 && b.size() == 0) {
            return null;
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    private static String abbreviate(String s) {
        if (s == null) {
            return "(none)";
        }
        return '"' + (s.length() > 80 ? s.substring(0, 80) + "..." : s) + '"';
    }

    /**
     * Copies the message to {@code out} with every line ending in CRLF (a bare LF or a bare CR
     * becomes CRLF; a last line without an end gets one). Returns the bytes written, or -1 once
     * more than {@code max} would be written (the rest is not read).
     */
    static long copyMessage(InputStream in, HeaderQualifier.Sink out, long max) throws IOException {
        byte[] buf = new byte[65536];
        byte[] o = new byte[2 * buf.length + 2];
        long size = 0;
        boolean cr = false;
        boolean lineOpen = false;
        int n;
        while ((n = in.read(buf)) > 0) {
            int k = 0;
            for (int i = 0; i < n; i++) {
                byte c = buf[i];
                if (cr) {
                    cr = false;
                    o[k++] = '\r';
                    o[k++] = '\n';
                    lineOpen = false;
                    if (c == '\n') {
                        continue;
                    }
                }
                if (c == '\r') {
                    cr = true;
                } else if (c == '\n') {
                    o[k++] = '\r';
                    o[k++] = '\n';
                    lineOpen = false;
                } else {
                    o[k++] = c;
                    lineOpen = true;
                }
            }
            size += k;
            if (size > max) {
                return -1;
            }
            out.write(o, 0, k);
        }
        if (cr || lineOpen) {
            o[0] = '\r';
            o[1] = '\n';
            size += 2;
            if (size > max) {
                return -1;
            }
            out.write(o, 0, 2);
        }
        return size;
    }
}
