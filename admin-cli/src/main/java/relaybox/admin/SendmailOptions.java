package relaybox.admin;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The command line of {@code relaybox sendmail} in sendmail's own syntax (-FName, -oi, -B8BITMIME,
 * clustered -ti), which picocli does not parse: owns the options and their meaning, nothing else.
 * Options without meaning here (-odb, -oem, -N, -R, -V, -U, -q ...) are accepted; unknown -o
 * options get a warning.
 */
final class SendmailOptions {

    /** -o options that only tune delivery or error modes of the classic sendmail: nothing to warn about. */
    private static final Set<String> QUIET_O = Set.of("i", "em", "ee", "ep", "eq", "ew", "db", "di", "dq", "dd", "dp",
            "m", "8", "7");

    boolean extract;
    boolean ignoreDots;
    boolean verbose;
    boolean eightBit;
    /** The -b mode: m (send a message), s (SMTP on stdio), p (list the queue), i (aliases), q (run the queue). */
    String mode = "m";
    String sender;
    String fullName;
    String smtp;
    Path config;
    Path dropDir;
    final List<String> recipients = new ArrayList<>();

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
              --smtp H:P    submit over SMTP to this intake first, so that the daemon's refusals
                            come back as exit codes (also $RELAYBOX_SMTP); without it, the drop
                            directory comes first and SMTP (to the first intake_listen in --config
                            FILE, default /etc/relaybox/relaybox.conf, else 127.0.0.1:25) only
                            when the drop directory is missing or cannot take the message
              --drop-dir D  the drop directory (default: $RELAYBOX_DROP_DIR, else drop_dir in the
                            config file, else /var/spool/relaybox/maildrop); the daemon watches it
                            and queues what is written there, at once or when it next runs
            Other classic options (-odb, -oem, -N, -R, -V, -U, -q) are accepted and ignored.

            Exit codes (sysexits): 0 written to the drop directory, or queued by the daemon over SMTP,
            64 usage, 65 sender or message refused, 67 recipient refused, 69 service refused, 74 input
            error, 75 temporary refusal or no room in the drop directory (the message was NOT
            queued: try again), 78 configuration unreadable.""";

    static final String SHORT_USAGE = "usage: relaybox sendmail [-t] [-i] [-f sender] [-F name] [-v] "
            + "[--smtp host:port] [recipient ...] < message";

    /** Returns null for --help; a usage error is an IllegalArgumentException saying what is wrong. */
    static SendmailOptions parse(String[] args, java.io.PrintStream stderr) {
        SendmailOptions o = new SendmailOptions();
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
                    o.valued(f, v, stderr);
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
                default -> o.flags(a.substring(1));
            }
        }
        return o;
    }

    private void valued(char f, String v, java.io.PrintStream stderr) {
        switch (f) {
            case 'f', 'r' -> sender = v.equals("<>") ? "" : strip(v);
            case 'F' -> fullName = v;
            case 'B' -> eightBit = v.equalsIgnoreCase("8BITMIME");
            case 'C' -> config = Path.of(v);
            case 'O' -> stderr.println("relaybox sendmail: warning: option -O " + v + " ignored");
            default -> { }
        }
    }

    /** Clustered flags such as -ti. */
    private void flags(String cluster) {
        for (int i = 0; i < cluster.length(); i++) {
            char c = cluster.charAt(i);
            switch (c) {
                case 't' -> extract = true;
                case 'i' -> ignoreDots = true;
                case 'v' -> verbose = true;
                case 'm', 'n', 'U', 'G', 'x' -> { }
                default -> throw new IllegalArgumentException("unknown option -" + c);
            }
        }
    }

    private static String strip(String s) {
        s = s.trim();
        return s.startsWith("<") && s.endsWith(">") ? s.substring(1, s.length() - 1) : s;
    }
}
