package relaybox.admin;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code relaybox sendmail} (installed as /usr/sbin/sendmail): reads one message on stdin and
 * submits it over SMTP to the local daemon's intake, which queues it durably before answering.
 * When the daemon cannot be reached (not running, restarting, 421), the message is written
 * durably into the drop directory ({@link DropWriter}) instead and the daemon queues it when it
 * runs: exit 0, as Postfix's postdrop, dma and nullmailer do, because PHP's mail() and cron do
 * not retry. When the daemon refuses, or the drop directory cannot take the message either, it
 * says on stderr that the message was NOT queued and exits with a sysexits code.
 *
 * <h2>What it accepts</h2>
 * Recipients as arguments (comma lists allowed); -t (also To/Cc/Bcc of the message, added to the
 * arguments as Postfix does); -i and -oi (a line with a single dot is text, not the end);
 * -f/-r sender ("" or "<>" is the null sender; default the caller's user name, bare, which the
 * daemon qualifies with its local_domain); -F full name (for a From: header added when the
 * message has none); -B 8BITMIME; -bs (SMTP on stdin/stdout, relayed to the daemon, or served by
 * {@link SmtpOffline} into the drop directory while the daemon is down); -bp (the
 * queue list); -v (SMTP dialogue on stderr); --smtp host:port and $RELAYBOX_SMTP (where the
 * intake listens; default the first intake_listen of the config file). Options without meaning
 * here (-odb, -oem, -N, -R, -V, -U, -q ...) are accepted; unknown -o options get a warning.
 *
 * <h2>What it does to the message</h2>
 * Line ends become CRLF (LF-only and lone CR input included, because the intake refuses bare
 * ones), lines starting with a dot are dot-stuffed, Bcc: fields are removed, a leading mbox
 * "From " line is dropped, and a From: header is added if missing. Date: and Message-ID: are the
 * intake's job. Everything else passes byte for byte.
 *
 * <h2>Exit codes (sysexits)</h2>
 * 0 queued, or dropped for the daemon; 64 usage (bad option, no recipients); 65 sender or message
 * refused; 67 a recipient refused; 69 daemon refuses service; 74 stdin unreadable; 75 temporary
 * refusal, or the daemon down and the drop directory missing or full; 78 config unreadable.
 *
 * <p>Class loading is kept small on purpose (no picocli, no Jackson, no config library): this
 * runs once per message, and JVM start-up is its whole cost.
 */
public final class Sendmail {

    static final int EX_OK = 0;
    static final int EX_USAGE = 64;
    static final int EX_DATAERR = 65;
    static final int EX_NOUSER = 67;
    static final int EX_UNAVAILABLE = 69;
    static final int EX_IOERR = 74;
    static final int EX_TEMPFAIL = 75;
    static final int EX_CONFIG = 78;

    static final String SMTP_ENV = "RELAYBOX_SMTP";
    static final String DEFAULT_SMTP = "127.0.0.1:25";
    /** -o options that only tune delivery or error modes of the classic sendmail: nothing to warn about. */
    private static final Set<String> QUIET_O = Set.of("i", "em", "ee", "ep", "eq", "ew", "db", "di", "dq", "dd", "dp",
            "m", "8", "7");

    private Sendmail() {
    }

    /** Parsed command line. */
    static final class Options {
        boolean extract;
        boolean ignoreDots;
        boolean verbose;
        boolean eightBit;
        String mode = "m";
        String sender;
        String fullName;
        String smtp;
        Path config;
        Path dropDir;
        final List<String> recipients = new ArrayList<>();
    }

    public static int run(String[] args, InputStream stdin, PrintStream stdout, PrintStream stderr,
                          Map<String, String> env, Path defaultConfig) {
        Options o;
        try {
            o = parse(args, stderr);
        } catch (IllegalArgumentException e) {
            stderr.println("relaybox sendmail: " + e.getMessage());
            stderr.println("usage: relaybox sendmail [-t] [-i] [-f sender] [-F name] [-v] [--smtp host:port] "
                    + "[recipient ...] < message");
            return EX_USAGE;
        }
        if (o == null) {
            stdout.println(USAGE);
            return EX_OK;
        }
        switch (o.mode) {
            case "p":
                return MailQueue.show(o, stdin, stdout, stderr, env, defaultConfig);
            case "i":
                stderr.println("relaybox sendmail: aliases are the [aliases] table of relaybox.conf, read when the"
                        + " daemon starts (systemctl restart relaybox); nothing to do");
                return EX_OK;
            case "q":
                // The daemon runs its queue by itself; "sendmail -q" from old cron jobs is harmless.
                return EX_OK;
            default:
                break;
        }
        String target;
        Path dropDir;
        try {
            target = target(o, env, defaultConfig);
            dropDir = dropDir(o, env, defaultConfig);
        } catch (IOException e) {
            stderr.println("relaybox sendmail: message NOT queued: " + e.getMessage());
            return EX_CONFIG;
        }
        String host = host(target);
        int port = port(target);
        if (o.mode.equals("s")) {
            return SmtpOnStdio.run(host, port, stdin, stdout, stderr, dropDir);
        }
        try {
            String reply = submit(o, host, port, new BufferedInputStream(stdin, 65536), o.verbose ? stderr : null,
                    dropDir);
            if (o.verbose) {
                stderr.println("relaybox sendmail: " + reply);
            }
            return EX_OK;
        } catch (SmtpSubmission.Failure f) {
            stderr.println("relaybox sendmail: message NOT queued: " + f.getMessage()
                    + (f.exit == EX_TEMPFAIL ? "; try again later" : ""));
            return f.exit;
        } catch (IOException e) {
            stderr.println("relaybox sendmail: message NOT queued: cannot read the message: " + e.getMessage());
            return EX_IOERR;
        }
    }

    static final String USAGE = """
            usage: relaybox sendmail [options] [recipient ...] < message

            Reads a message on stdin and queues it with the local relaybox daemon (SMTP to its intake).
              -t            also send to the To, Cc and Bcc addresses of the message (Bcc is removed)
              -i, -oi       a line with a single dot does not end the message
              -f SENDER     envelope sender (also -r); "" or "<>" for the null sender
              -F NAME       full name for the From: header added when the message has none
              -B 8BITMIME   declare an 8-bit body
              -bs           speak SMTP on stdin/stdout (relayed to the daemon)
              -bp           list the queue (relaybox queue list)
              -v            print the SMTP dialogue on stderr (and where a dropped message went)
              --smtp H:P    intake address (default: $RELAYBOX_SMTP, else the first intake_listen in
                            --config FILE, default /etc/relaybox/relaybox.conf, else 127.0.0.1:25)
              --drop-dir D  where the message is written when the daemon is down (default:
                            $RELAYBOX_DROP_DIR, else drop_dir in the config file, else
                            /var/spool/relaybox/maildrop); the daemon queues it when it runs
            Other classic options (-odb, -oem, -N, -R, -V, -U, -q) are accepted and ignored.

            Exit codes (sysexits): 0 queued (or, with the daemon down, written to the drop directory),
            64 usage, 65 sender or message refused, 67 recipient refused, 69 service refused, 74 input
            error, 75 temporary refusal or no room in the drop directory (the message was NOT
            queued: try again), 78 configuration unreadable.""";

    /** Returns null for --help. */
    static Options parse(String[] args, PrintStream stderr) {
        Options o = new Options();
        boolean onlyRecipients = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (onlyRecipients || !a.startsWith("-") || a.equals("-")) {
                o.recipients.addAll(Addresses.parse(a));
                continue;
            }
            if (a.equals("--")) {
                onlyRecipients = true;
                continue;
            }
            if (a.equals("--help")) {
                return null;
            }
            if (a.equals("--smtp") || a.equals("--config") || a.equals("--drop-dir")) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                if (a.equals("--smtp")) {
                    o.smtp = args[++i];
                } else if (a.equals("--drop-dir")) {
                    o.dropDir = Path.of(args[++i]);
                } else {
                    o.config = Path.of(args[++i]);
                }
                continue;
            }
            char f = a.charAt(1);
            String attached = a.substring(2);
            switch (f) {
                case 'f', 'r', 'F', 'B', 'N', 'R', 'V', 'X', 'L', 'h', 'C', 'O', 'A' -> {
                    String v;
                    if (!attached.isEmpty()) {
                        v = attached;
                    } else if (i + 1 < args.length) {
                        v = args[++i];
                    } else {
                        throw new IllegalArgumentException("option -" + f + " needs a value");
                    }
                    switch (f) {
                        case 'f', 'r' -> o.sender = v.equals("<>") ? "" : strip(v);
                        case 'F' -> o.fullName = v;
                        case 'B' -> o.eightBit = v.equalsIgnoreCase("8BITMIME");
                        case 'C' -> o.config = Path.of(v);
                        case 'O' -> stderr.println("relaybox sendmail: warning: option -O " + v + " ignored");
                        default -> { }
                    }
                }
                case 'o' -> {
                    if (attached.equals("i")) {
                        o.ignoreDots = true;
                    } else if (!QUIET_O.contains(attached) && !attached.startsWith("e") && !attached.startsWith("d")) {
                        stderr.println("relaybox sendmail: warning: option " + a + " ignored");
                    }
                }
                case 'b' -> {
                    switch (attached) {
                        case "m", "s", "p", "i", "I" -> o.mode = attached.equals("I") ? "i" : attached;
                        default -> throw new IllegalArgumentException("mode " + a + " is not supported");
                    }
                }
                case 'q' -> o.mode = "q";
                case 'I' -> o.mode = "i";
                default -> {
                    // Clustered flags such as -ti.
                    for (char c : a.substring(1).toCharArray()) {
                        switch (c) {
                            case 't' -> o.extract = true;
                            case 'i' -> o.ignoreDots = true;
                            case 'v' -> o.verbose = true;
                            case 'm', 'n', 'U', 'G', 'x' -> { }
                            default -> throw new IllegalArgumentException("unknown option -" + c);
                        }
                    }
                }
            }
        }
        return o;
    }

    private static String strip(String s) {
        s = s.trim();
        return s.startsWith("<") && s.endsWith(">") ? s.substring(1, s.length() - 1) : s;
    }

    /** --smtp, else $RELAYBOX_SMTP, else the config's first intake_listen, else 127.0.0.1:25. */
    static String target(Options o, Map<String, String> env, Path defaultConfig) throws IOException {
        if (o.smtp != null) {
            return o.smtp;
        }
        String e = env.get(SMTP_ENV);
        if (e != null && !e.isBlank()) {
            return e.trim();
        }
        Path file = o.config != null ? o.config : defaultConfig;
        if (!Files.exists(file)) {
            if (o.config != null) {
                throw new IOException("config file " + file + " does not exist");
            }
            return DEFAULT_SMTP;
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException ex) {
            throw new IOException("cannot read " + file + " to find the intake address (" + ex.getMessage()
                    + "); make it readable or set " + SMTP_ENV);
        }
        return firstListen(text).orElse(DEFAULT_SMTP);
    }

    static final String DROP_ENV = "RELAYBOX_DROP_DIR";
    static final Path DEFAULT_DROP_DIR = Path.of("/var/spool/relaybox/maildrop");

    /** --drop-dir, else $RELAYBOX_DROP_DIR, else the config's drop_dir, else the default. */
    static Path dropDir(Options o, Map<String, String> env, Path defaultConfig) {
        if (o.dropDir != null) {
            return o.dropDir;
        }
        String e = env.get(DROP_ENV);
        if (e != null && !e.isBlank()) {
            return Path.of(e.trim());
        }
        Path file = o.config != null ? o.config : defaultConfig;
        try {
            String d = ConfigPeek.topLevelString(Files.readString(file, StandardCharsets.UTF_8), "drop_dir", false);
            if (d != null && !d.isBlank()) {
                return Path.of(d);
            }
        } catch (IOException | RuntimeException e2) {
            // No readable config: the default.
        }
        return DEFAULT_DROP_DIR;
    }

    /**
     * The first address of the top-level {@code intake_listen} key. A deliberately small scan
     * instead of a TOML parser, to keep this path's start-up short; SendmailTest checks it
     * against ConfigReader on the shipped file.
     */
    static java.util.Optional<String> firstListen(String toml) {
        return java.util.Optional.ofNullable(ConfigPeek.topLevelString(toml, "intake_listen", true));
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

    /** A wildcard listen address is reached on loopback. */
    static String host(String hostPort) {
        int c = hostPort.lastIndexOf(':');
        String h = c < 0 ? hostPort : hostPort.substring(0, c);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return switch (h) {
            case "", "0.0.0.0", "*" -> "127.0.0.1";
            case "::" -> "::1";
            default -> h;
        };
    }

    static int port(String hostPort) {
        int c = hostPort.lastIndexOf(':');
        try {
            return c < 0 ? 25 : Integer.parseInt(hostPort.substring(c + 1));
        } catch (NumberFormatException e) {
            return 25;
        }
    }

    /** Reads the header section, opens the SMTP transaction, then streams the body. */
    static String submit(Options o, String host, int port, InputStream in, PrintStream trace, Path dropDir)
            throws SmtpSubmission.Failure, IOException {
        LineReader reader = new LineReader(in);
        List<String> fields = new ArrayList<>();
        String firstBodyLine = null;
        boolean ended = false;
        boolean first = true;
        while (true) {
            String line = reader.next();
            if (line == null) {
                ended = true;
                break;
            }
            if (!o.ignoreDots && line.equals(".")) {
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
            String name = f.substring(0, f.indexOf(':')).trim().toLowerCase(Locale.ROOT);
            String value = f.substring(f.indexOf(':') + 1).replace("\r\n", "");
            if (o.extract && (name.equals("to") || name.equals("cc") || name.equals("bcc"))) {
                rcpts.addAll(Addresses.parse(value));
            }
            if (name.equals("from")) {
                hasFrom = true;
            }
            if (!name.equals("bcc")) {
                kept.add(f);
            }
        }
        if (!hasFrom) {
            kept.add(0, "From: " + fromHeader(o.fullName, sender));
        }
        if (rcpts.isEmpty()) {
            throw new SmtpSubmission.Failure(EX_USAGE, "no recipients (give them as arguments, or use -t with To/Cc/Bcc"
                    + " headers)");
        }
        Message m = new Message(kept, firstBodyLine, reader, ended, o.ignoreDots);
        SmtpSubmission smtp;
        try {
            smtp = SmtpSubmission.open(host, port, "localhost", trace);
        } catch (SmtpSubmission.Failure f) {
            if (f.unreachable) {
                return drop(dropDir, f, sender, rcpts, o.eightBit, m);
            }
            throw f;
        }
        try (smtp) {
            StringBuilder params = new StringBuilder();
            if (o.eightBit && smtp.supports("8BITMIME")) {
                params.append(" BODY=8BITMIME");
            }
            boolean utf8 = !isAscii(sender);
            for (String r : rcpts) {
                utf8 |= !isAscii(r);
            }
            if (utf8 && smtp.supports("SMTPUTF8")) {
                params.append(" SMTPUTF8");
            }
            try {
                smtp.mail(sender, params.toString());
            } catch (SmtpSubmission.Failure f) {
                if (f.unreachable) {
                    // 421: the daemon is stopping. Nothing of the message was sent yet.
                    smtp.close();
                    return drop(dropDir, f, sender, rcpts, o.eightBit, m);
                }
                throw f;
            }
            try {
                for (String r : rcpts) {
                    smtp.rcpt(r);
                }
            } catch (SmtpSubmission.Failure f) {
                smtp.reset();
                smtp.quit();
                throw f;
            }
            smtp.data();
            // An inner class, not a method reference: a lambda's first link costs this path ~10 ms.
            m.writeTo(new Lines() {
                @Override
                public void line(String text) throws SmtpSubmission.Failure {
                    smtp.line(text);
                }
            });
            String reply = smtp.finish();
            smtp.quit();
            return reply;
        }
    }

    /** A line sink: the SMTP connection or the drop file. */
    interface Lines {
        void line(String text) throws SmtpSubmission.Failure, IOException;
    }

    /** The message as read so far (the header fields) and the rest of stdin, written once to one sink. */
    record Message(List<String> fields, String firstBodyLine, LineReader reader, boolean ended, boolean ignoreDots) {
        void writeTo(Lines out) throws SmtpSubmission.Failure, IOException {
            for (String f : fields) {
                for (String l : f.split("\r\n", -1)) {
                    out.line(l);
                }
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
    }

    /**
     * The daemon cannot be reached: the message goes into the drop directory, durably, and the
     * daemon queues it when it runs. Only when that fails too is the message NOT queued (75).
     */
    static String drop(Path dir, SmtpSubmission.Failure why, String sender, Set<String> rcpts, boolean eightBit,
                       Message m) throws SmtpSubmission.Failure, IOException {
        if (dir == null || !Files.isDirectory(dir)) {
            throw new SmtpSubmission.Failure(EX_TEMPFAIL, why.getMessage() + ", and the drop directory " + dir
                    + " does not exist", false);
        }
        DropWriter w;
        try {
            w = DropWriter.open(dir, sender, rcpts, eightBit);
        } catch (IOException | IllegalArgumentException e) {
            throw dropFailed(dir, why, e instanceof IOException io ? io : new IOException(e.getMessage()));
        }
        try (w) {
            m.writeTo(new Lines() {
                @Override
                public void line(String text) throws SmtpSubmission.Failure {
                    try {
                        w.line(text);
                    } catch (IOException e) {
                        throw dropFailed(dir, why, e);
                    }
                }
            });
            String name;
            try {
                name = w.commit();
            } catch (IOException e) {
                throw dropFailed(dir, why, e);
            }
            return "the daemon is not running (" + why.getMessage() + "); the message was written to " + dir + "/"
                    + name + " and will be queued when the daemon runs";
        }
    }

    private static SmtpSubmission.Failure dropFailed(Path dir, SmtpSubmission.Failure why, IOException e) {
        String reason = e.getMessage() != null && e.getMessage().contains("No space left") ? "the disk is full"
                : e.toString();
        return new SmtpSubmission.Failure(EX_TEMPFAIL, why.getMessage() + ", and the message cannot be written to the"
                + " drop directory " + dir + ": " + reason, false);
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
