package relaybox.admin;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code relaybox sendmail} (installed as /usr/sbin/sendmail): reads one message on stdin and
 * writes it durably into the drop directory ({@link DropWriter}), which the daemon watches and
 * queues from, running or not yet: exit 0, as Postfix's postdrop, dma and nullmailer do, because
 * PHP's mail() and cron do not retry. Without a usable drop directory, or when the caller names
 * the intake ({@code --smtp}, {@code $RELAYBOX_SMTP}), it submits over SMTP to the daemon's
 * intake, which queues it durably before answering (and the drop directory is the fallback when
 * the daemon cannot be reached). When the daemon refuses, or neither way takes the message, it
 * says on stderr that the message was NOT queued and exits with a sysexits code.
 *
 * <h2>Who does what</h2>
 * This class owns the modes (-bm, -bs, -bp, -bi, -q), the exit codes and what stderr says.
 * {@link SendmailOptions} parses the command line (recipients as arguments, -t, -i/-oi, -f/-r,
 * -F, -B 8BITMIME, -v, --smtp, --drop-dir ...), {@link SendmailConfig} finds the intake and the
 * drop directory, {@link OutgoingMessage} reads the message and its envelope (what is done to
 * the message is described there), {@link Submitter} hands it to the daemon over
 * {@link SmtpSubmission} or to the drop directory through {@link DropWriter}; -bs is
 * {@link SmtpOnStdio} (or {@link SmtpOffline} while the daemon is down), -bp {@link MailQueue}.
 *
 * <h2>Exit codes (sysexits)</h2>
 * 0 queued, or dropped for the daemon; 64 usage (bad option, no recipients); 65 sender or message
 * refused; 67 a recipient refused; 69 daemon refuses service; 74 stdin unreadable; 75 temporary
 * refusal, or the daemon down and the drop directory missing or full; 78 config unreadable.
 *
 * <p>Class loading is kept small on purpose (no picocli, no Jackson, no config library, no regular
 * expression, lambda or stream, no ProcessHandle): this runs once per message, and JVM start-up
 * is its whole cost. CliClassLoadingTest checks what it loads; bench/sendmail.sh measures it.
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

    private Sendmail() {
    }

    public static int run(String[] args, InputStream stdin, PrintStream stdout, PrintStream stderr,
                          Map<String, String> env, Path defaultConfig) {
        SendmailOptions o;
        try {
            o = SendmailOptions.parse(args, stderr);
        } catch (IllegalArgumentException e) {
            stderr.println("relaybox sendmail: " + e.getMessage());
            stderr.println(SendmailOptions.SHORT_USAGE);
            return EX_USAGE;
        }
        if (o == null) {
            stdout.println(SendmailOptions.USAGE);
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
            target = SendmailConfig.target(o, env, defaultConfig);
            dropDir = SendmailConfig.dropDir(o, env, defaultConfig);
        } catch (IOException e) {
            stderr.println("relaybox sendmail: message NOT queued: " + e.getMessage());
            return EX_CONFIG;
        }
        String host = SendmailConfig.host(target);
        int port = SendmailConfig.port(target);
        if (o.mode.equals("s")) {
            return SmtpOnStdio.run(host, port, stdin, stdout, stderr, dropDir);
        }
        try {
            OutgoingMessage m = OutgoingMessage.read(o, new BufferedInputStream(stdin, 65536));
            PrintStream trace = o.verbose ? stderr : null;
            String reply = SendmailConfig.smtpGiven(o, env)
                    ? Submitter.submit(m, host, port, o.eightBit, trace, dropDir)
                    : Submitter.dropFirst(m, host, port, o.eightBit, trace, dropDir);
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
}
