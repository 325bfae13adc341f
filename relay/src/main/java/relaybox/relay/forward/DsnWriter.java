package relaybox.relay.forward;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.RecipientState;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailEvents;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Owns delivery status notifications (RFC 3464): when recipients of a message fail, it builds a
 * multipart/report to the envelope sender and queues it like any other message, with the null
 * sender, so it leaves through the same upstream. Never for a message with the null sender (a
 * bounce is never bounced). At most {@code perMinute} DSNs a minute: a bounce storm is logged, not
 * turned into a second storm, and cannot fill the disk. It does not send anything itself.
 *
 * <p>DKIM: a DSN does not pass the intake, so it is signed here, before {@code accept}, by the
 * intake's signer: with the key for its From domain (the relay's host name), else as
 * {@code dkim_no_key} says (unsigned, the default key of "sign_with", or under "refuse" not sent
 * at all, which the mail log records).
 */
final class DsnWriter {

    private static final Logger LOG = LoggerFactory.getLogger(DsnWriter.class);
    private static final Pattern ENHANCED = Pattern.compile("\\b([245]\\.\\d{1,3}\\.\\d{1,3})\\b");
    private static final Pattern CODE = Pattern.compile("^[245]\\d\\d\\b.*");
    private static final int MAX_HEADERS = 64 * 1024;

    private final Queue queue;
    private final MailEvents log;
    private final boolean enabled;
    private final int perMinute;
    private final String hostName;
    private final Clock clock;
    private final MessageSigner signer;
    private long window;
    private int sentInWindow;

    DsnWriter(Queue queue, MailEvents log, boolean enabled, int perMinute, String hostName, Clock clock) {
        this(queue, log, enabled, perMinute, hostName, clock, MessageSigner.NONE);
    }

    DsnWriter(Queue queue, MailEvents log, boolean enabled, int perMinute, String hostName, Clock clock,
              MessageSigner signer) {
        this.signer = signer;
        this.queue = queue;
        this.log = log;
        this.enabled = enabled;
        this.perMinute = perMinute;
        this.hostName = hostName;
        this.clock = clock;
    }

    /** Reports {@code failed} recipients of {@code entry} to its sender, if policy allows. */
    void failed(QueueEntry entry, List<RecipientState> failed) {
        if (!enabled || failed.isEmpty() || entry.envelope().isNullSender()) {
            return;
        }
        if (!take()) {
            log.dsnSkipped(entry.id(), "forward_dsn_rate of " + perMinute + "/min reached");
            return;
        }
        Queue.Incoming in = null;
        try {
            in = queue.receive();
            byte[] report = report(entry, failed, in.id().toString());
            String signature;
            try {
                MessageSigner.Signing s = signer.begin("");
                s.update(report, 0, report.length);
                signature = s.finish("");
            } catch (MessageSigner.SigningException e) {
                log.dsnSkipped(entry.id(), "cannot DKIM-sign the DSN: " + e.getMessage());
                in.discard();
                return;
            }
            // The signature goes above the report, as the intake puts it above a client's message.
            in.body().write(signature.getBytes(StandardCharsets.US_ASCII));
            in.body().write(report);
            Envelope env = new Envelope("", List.of(entry.envelope().sender()), false, false, "127.0.0.1", hostName, "");
            QueueEntry dsn = queue.accept(in, env, "");
            log.dsnQueued(entry.id(), dsn.id(), entry.envelope().sender());
        } catch (QueueException | IOException e) {
            LOG.warn("{}: cannot queue a DSN: {}", entry.id(), e.toString());
            if (in != null) {
                in.discard();
            }
        }
    }

    private synchronized boolean take() {
        long minute = clock.millis() / 60_000;
        if (minute != window) {
            window = minute;
            sentInWindow = 0;
        }
        if (sentInWindow >= perMinute) {
            return false;
        }
        sentInWindow++;
        return true;
    }

    byte[] report(QueueEntry entry, List<RecipientState> failed, String dsnId) throws IOException {
        Instant now = clock.instant();
        String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(now.atOffset(ZoneOffset.UTC));
        String boundary = "=_relaybox_" + dsnId;
        StringBuilder b = new StringBuilder();
        b.append("From: Mail Delivery System <MAILER-DAEMON@").append(hostName).append(">\r\n");
        b.append("To: <").append(entry.envelope().sender()).append(">\r\n");
        b.append("Subject: Undelivered Mail Returned to Sender\r\n");
        b.append("Date: ").append(date).append("\r\n");
        b.append("Message-ID: <").append(dsnId).append(".dsn@").append(hostName).append(">\r\n");
        b.append("Auto-Submitted: auto-replied\r\n");
        b.append("MIME-Version: 1.0\r\n");
        b.append("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"")
                .append(boundary).append("\"\r\n\r\n");
        b.append("This is a MIME-encapsulated message.\r\n\r\n--").append(boundary).append("\r\n");
        b.append("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        b.append("Your message (queue id ").append(entry.id()).append(") could not be delivered to ")
                .append(failed.size() == 1 ? "this recipient" : "these recipients").append(":\r\n\r\n");
        for (RecipientState r : failed) {
            b.append("<").append(r.address()).append(">: ").append(r.lastReply()).append("\r\n");
        }
        b.append("\r\n--").append(boundary).append("\r\n");
        b.append("Content-Type: message/delivery-status\r\n\r\n");
        b.append("Reporting-MTA: dns; ").append(hostName).append("\r\n");
        b.append("X-Relaybox-Queue-ID: ").append(entry.id()).append("\r\n");
        b.append("Arrival-Date: ").append(DateTimeFormatter.RFC_1123_DATE_TIME.format(
                entry.queuedAt().atOffset(ZoneOffset.UTC))).append("\r\n");
        for (RecipientState r : failed) {
            b.append("\r\nFinal-Recipient: rfc822; ").append(r.address()).append("\r\n");
            b.append("Action: failed\r\n");
            b.append("Status: ").append(status(r.lastReply())).append("\r\n");
            if (CODE.matcher(r.lastReply()).matches()) {
                b.append("Diagnostic-Code: smtp; ").append(oneLine(r.lastReply())).append("\r\n");
            }
        }
        b.append("\r\n--").append(boundary).append("\r\n");
        b.append("Content-Type: text/rfc822-headers\r\n\r\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(b.toString().getBytes(StandardCharsets.UTF_8));
        out.write(originalHeaders(entry));
        out.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    static String status(String reply) {
        Matcher m = ENHANCED.matcher(reply);
        if (m.find() && !m.group(1).startsWith("2")) {
            return "5" + m.group(1).substring(1);
        }
        return "5.0.0";
    }

    private static String oneLine(String s) {
        return s.replace("\r", " ").replace("\n", " ");
    }

    /** The original header section (up to the blank line), at most 64 KiB, ending in CRLF. */
    private byte[] originalHeaders(QueueEntry entry) {
        ByteArrayOutputStream h = new ByteArrayOutputStream();
        try (InputStream in = queue.openMessage(entry.id())) {
            int prev2 = -1;
            int prev = -1;
            int c;
            while (h.size() < MAX_HEADERS && (c = in.read()) >= 0) {
                if (c == '\n' && prev == '\r' && prev2 == '\n') {
                    break;
                }
                h.write(c);
                prev2 = prev;
                prev = c;
            }
        } catch (IOException e) {
            return ("X-Relaybox-Note: original headers unavailable\r\n").getBytes(StandardCharsets.US_ASCII);
        }
        byte[] out = h.toByteArray();
        // Drop the trailing CR of the blank line, keep the header block CRLF-terminated.
        int n = out.length;
        if (n > 0 && out[n - 1] == '\r') {
            n--;
        }
        byte[] trimmed = java.util.Arrays.copyOf(out, n);
        return trimmed;
    }
}
