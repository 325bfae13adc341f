package relaybox.admin;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hands one {@link OutgoingMessage} to the daemon, and owns the choice of way:
 * <ul>
 * <li>by default ({@link #dropFirst}) durably into the drop directory, which the daemon watches
 *     and queues from, as Postfix's sendmail hands mail to postdrop; SMTP to the intake only when
 *     the drop directory is missing or cannot take the message;</li>
 * <li>with an intake address given ({@code --smtp}, {@code $RELAYBOX_SMTP}; {@link #submit}) over
 *     SMTP, so that the daemon's refusal reaches the caller as an exit code, and into the drop
 *     directory only when the daemon cannot be reached (no connection, 421, gone before the
 *     transaction). A refusal by a daemon that is there is final and never falls back.</li>
 * </ul>
 * Only when neither way takes the message is it NOT queued (75).
 *
 * <p>Why the drop directory first: the JVM's first socket costs this short-lived process about
 * 15 ms (JDK 17 links a lambda form in {@code SocketImpl}'s initialiser that no class-data
 * archive can hold) and the SMTP dialogue with the daemon's commit another 7; a file, fsynced,
 * costs less, and it records the submitting user as the file's owner. The price is that a
 * message the daemon refuses (too large for the upstream, say) is refused after the exit, by a
 * DSN to its sender, as with Postfix.
 *
 * <p>Sinks are inner classes, not lambdas or method references: linking a lambda's call site
 * costs this path about 10 ms of a start-up that is its whole cost.
 */
final class Submitter {

    private Submitter() {
    }

    /**
     * The default way: the drop directory, else SMTP. Returns where the message went, or the
     * daemon's 250 reply.
     */
    static String dropFirst(OutgoingMessage m, String host, int port, boolean eightBit, PrintStream trace,
                            Path dropDir) throws SmtpSubmission.Failure, IOException {
        String dropFailure;
        if (dropDir == null || !Files.isDirectory(dropDir)) {
            dropFailure = "the drop directory " + dropDir + " does not exist";
        } else {
            try {
                return "written to " + dropDir + "/" + write(dropDir, "", m, eightBit)
                        + "; the daemon queues it from there (at once when it runs)";
            } catch (SmtpSubmission.Failure f) {
                dropFailure = f.getMessage();
            }
        }
        if (trace != null) {
            trace.println("relaybox sendmail: " + dropFailure + "; trying the daemon's intake at " + host + ":" + port);
        }
        try {
            return submit(m, host, port, eightBit, trace, null);
        } catch (SmtpSubmission.Failure f) {
            if (f.unreachable || f.exit == Sendmail.EX_TEMPFAIL) {
                throw new SmtpSubmission.Failure(f.exit, dropFailure + ", and " + f.getMessage(), false);
            }
            throw f;
        }
    }

    /** Returns the daemon's 250 reply or, for a dropped message, where it went. */
    static String submit(OutgoingMessage m, String host, int port, boolean eightBit, PrintStream trace, Path dropDir)
            throws SmtpSubmission.Failure, IOException {
        SmtpSubmission smtp;
        try {
            smtp = SmtpSubmission.open(host, port, "localhost", trace);
        } catch (SmtpSubmission.Failure f) {
            if (f.unreachable) {
                return drop(dropDir, f, m, eightBit);
            }
            throw f;
        }
        try (smtp) {
            StringBuilder params = new StringBuilder();
            if (eightBit && smtp.supports("8BITMIME")) {
                params.append(" BODY=8BITMIME");
            }
            if (m.needsUtf8() && smtp.supports("SMTPUTF8")) {
                params.append(" SMTPUTF8");
            }
            try {
                smtp.begin(m.sender, params.toString(), m.recipients);
            } catch (SmtpSubmission.Failure f) {
                if (f.unreachable) {
                    // 421 to MAIL: the daemon is stopping. Nothing of the message was sent yet.
                    smtp.close();
                    return drop(dropDir, f, m, eightBit);
                }
                throw f;
            }
            m.writeTo(new OutgoingMessage.Lines() {
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

    /** The daemon cannot be reached: the message goes into the drop directory, durably. */
    static String drop(Path dir, SmtpSubmission.Failure why, OutgoingMessage m, boolean eightBit)
            throws SmtpSubmission.Failure, IOException {
        if (dir == null) {
            // dropFirst has tried the drop directory already and says why it failed.
            throw why;
        }
        if (!Files.isDirectory(dir)) {
            throw new SmtpSubmission.Failure(Sendmail.EX_TEMPFAIL, why.getMessage() + ", and the drop directory " + dir
                    + " does not exist", false);
        }
        String name = write(dir, why.getMessage() + ", and ", m, eightBit);
        return "the daemon is not running (" + why.getMessage() + "); the message was written to " + dir + "/"
                + name + " and will be queued when the daemon runs";
    }

    /** Writes the message into the drop directory durably; returns its file's name. */
    private static String write(Path dir, String context, OutgoingMessage m, boolean eightBit)
            throws SmtpSubmission.Failure, IOException {
        DropWriter w;
        try {
            w = DropWriter.open(dir, m.sender, m.recipients, eightBit);
        } catch (IOException | IllegalArgumentException e) {
            throw dropFailed(dir, context, e instanceof IOException io ? io : new IOException(e.getMessage()));
        }
        try (w) {
            m.writeTo(new OutgoingMessage.Lines() {
                @Override
                public void line(String text) throws SmtpSubmission.Failure {
                    try {
                        w.line(text);
                    } catch (IOException e) {
                        throw dropFailed(dir, context, e);
                    }
                }
            });
            try {
                return w.commit();
            } catch (IOException e) {
                throw dropFailed(dir, context, e);
            }
        }
    }

    private static SmtpSubmission.Failure dropFailed(Path dir, String context, IOException e) {
        String reason = e.getMessage() != null && e.getMessage().contains("No space left") ? "the disk is full"
                : e.toString();
        return new SmtpSubmission.Failure(Sendmail.EX_TEMPFAIL, context + "the message cannot be"
                + " written to the drop directory " + dir + ": " + reason, false);
    }
}
