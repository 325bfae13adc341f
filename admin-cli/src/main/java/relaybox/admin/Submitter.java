package relaybox.admin;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hands one {@link OutgoingMessage} to the local daemon's intake over SMTP or, when the daemon
 * cannot be reached (no connection, 421, gone before the transaction), durably to the drop
 * directory, where the daemon takes it in when it runs. Owns that choice: a refusal by a daemon
 * that is there is final and never falls back to the drop directory. Only when the drop
 * directory cannot take the message either is it NOT queued (75).
 *
 * <p>Sinks are inner classes, not lambdas or method references: linking a lambda's call site
 * costs this path about 10 ms of a start-up that is its whole cost.
 */
final class Submitter {

    private Submitter() {
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
        if (dir == null || !Files.isDirectory(dir)) {
            throw new SmtpSubmission.Failure(Sendmail.EX_TEMPFAIL, why.getMessage() + ", and the drop directory " + dir
                    + " does not exist", false);
        }
        DropWriter w;
        try {
            w = DropWriter.open(dir, m.sender, m.recipients, eightBit);
        } catch (IOException | IllegalArgumentException e) {
            throw dropFailed(dir, why, e instanceof IOException io ? io : new IOException(e.getMessage()));
        }
        try (w) {
            m.writeTo(new OutgoingMessage.Lines() {
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
        return new SmtpSubmission.Failure(Sendmail.EX_TEMPFAIL, why.getMessage() + ", and the message cannot be"
                + " written to the drop directory " + dir + ": " + reason, false);
    }
}
