package relaybox.relay.intake;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.local.FromRewriter;
import relaybox.relay.local.HeaderQualifier;
import relaybox.relay.local.LocalNames;
import relaybox.relay.log.MailEvents;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.List;

/**
 * Owns what happens to one drop file {@link DropPickup} has taken and validated: qualifies
 * From/To/Cc, adds a {@code Received:} line naming the submitter's uid, signs, accepts it into the
 * queue and only then deletes the file; or, when it cannot be queued, moves it to {@code .bad/}
 * with a mail-log line and a notice to its sender. A queue that cannot take it now leaves it where
 * it is, to be tried again at the next scan.
 *
 * <p>Thread safety: called from the pickup's one thread.
 */
final class DropQueuing {

    /** The pickup's logger: these lines keep the name operators already filter on. */
    private static final Logger LOG = LoggerFactory.getLogger(DropPickup.class);

    private final Path bad;
    private final Queue queue;
    private final MessageSigner signer;
    private final LocalNames names;
    private final IntakeConfig config;
    private final MailEvents mailLog;
    private final Clock clock;
    /** The upstreams' size limits and From rewrites, as for SMTP intake. */
    volatile UpstreamFacts upstreams = UpstreamFacts.NONE;

    DropQueuing(Path bad, Queue queue, MessageSigner signer, LocalNames names, IntakeConfig config,
                MailEvents mailLog, Clock clock) {
        this.bad = bad;
        this.queue = queue;
        this.signer = signer;
        this.names = names;
        this.config = config;
        this.mailLog = mailLog;
        this.clock = clock;
    }

    /** Queues one valid taken file; true when it was queued (and deleted), false when it waits or was moved aside. */
    boolean queue(Path p, String name, int uid, DropFile file, InputStream in) throws IOException {
        Queue.Incoming incoming;
        try {
            incoming = queue.receive();
        } catch (QueueException e) {
            LOG.warn("drop_dir: {} waits, the queue cannot take it now: {}", name, e.getMessage());
            return false;
        }
        try {
            MessageSigner.Signing signing = signer.begin(file.sender());
            HeaderScanner scanner = new HeaderScanner();
            IOException[] failure = new IOException[1];
            HeaderQualifier.Sink store = (b, off, len) -> {
                if (failure[0] != null) {
                    return;
                }
                signing.update(b, off, len);
                scanner.update(b, off, len);
                try {
                    incoming.body().write(b, off, len);
                } catch (IOException e) {
                    failure[0] = e;
                }
            };
            String fromRewrite = upstreams.fromRewrite(file.sender());
            FromRewriter rewriter = fromRewrite.isEmpty() ? null : new FromRewriter(fromRewrite, store);
            HeaderQualifier.Sink next = rewriter == null ? store : rewriter::write;
            HeaderQualifier qualifier = names.domain().isEmpty() ? null : new HeaderQualifier(names.domain(), next);
            long size = DropFile.copyMessage(in, qualifier == null ? next : qualifier::write,
                    Math.min(config.maxMessageSize(), upstreams.limitFor(file.sender()).bytes()));
            if (qualifier != null) {
                qualifier.finish();
            }
            if (rewriter != null) {
                rewriter.finish();
            }
            if (size < 0) {
                incoming.discard();
                moveAside(p, uid, file.sender(), "5.3.4 Message size exceeds fixed limit");
                return false;
            }
            if (failure[0] != null) {
                throw failure[0];
            }
            scanner.finish();
            String added = AddedHeaders.buildLocal(incoming.id(), config.hostname(), uid, file.recipients(),
                    scanner.hasDate(), scanner.hasMessageId(), ZonedDateTime.now(clock));
            String signature;
            try {
                signature = signing.finish(added);
            } catch (MessageSigner.SigningException e) {
                incoming.discard();
                if (e.permanent()) {
                    moveAside(p, uid, file.sender(), "5.7.1 cannot be signed: " + e.getMessage());
                }
                return false;
            }
            Envelope env = new Envelope(file.sender(), file.recipients(), file.smtputf8(), file.eightBit(),
                    "uid " + uid, "", "");
            QueueEntry entry = queue.accept(incoming, env, signature + added);
            mailLog.pickedUp(entry.id(), file.sender(), file.recipients().size(), entry.messageSize(), uid, name,
                    signing.signedBy());
            // Only now: a crash before this line takes the file in again (twice, never lost).
            Files.delete(p);
            return true;
        } catch (QueueException e) {
            incoming.discard();
            LOG.warn("drop_dir: {} waits, the queue refused it: {} {}", name, e.kind(), e.getMessage());
            return false;
        } catch (IOException | RuntimeException e) {
            incoming.discard();
            throw e instanceof IOException io ? io : new IOException(e);
        }
    }

    /** Moves a file that cannot be queued to .bad/, logs it and, when it names a sender, tells the sender. */
    void moveAside(Path p, int uid, String sender, String reason) {
        String name = p.getFileName().toString();
        try {
            Files.move(p, bad.resolve(name), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            LOG.error("drop_dir: cannot move {} aside to {}: {}", name, DropPickup.BAD, e.toString());
        }
        mailLog.pickupRejected(name, uid, sender == null ? "" : sender, reason);
        if (sender != null && !sender.isEmpty()) {
            bounce(name, sender, reason);
        }
    }

    /** A short notice to the sender of a file that could not be queued, itself queued with the null sender. */
    private void bounce(String name, String sender, String reason) {
        Queue.Incoming in = null;
        try {
            in = queue.receive();
            String date = AddedHeaders.RFC5322.format(ZonedDateTime.now(clock));
            String text = "From: Mail Delivery System <MAILER-DAEMON@" + config.hostname() + ">\r\n"
                    + "To: <" + sender + ">\r\n"
                    + "Subject: Undeliverable: your message was not queued\r\n"
                    + "Date: " + date + "\r\n"
                    + "Message-ID: <" + in.id() + ".pickup@" + config.hostname() + ">\r\n"
                    + "Auto-Submitted: auto-replied\r\n"
                    + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                    + "The message you gave to sendmail on " + config.hostname() + " (file " + name + ")\r\n"
                    + "could not be queued: " + reason.replace("\r", " ").replace("\n", " ") + "\r\n"
                    + "It was kept aside for the administrator.\r\n";
            in.body().write(text.getBytes(StandardCharsets.UTF_8));
            Envelope env = new Envelope("", List.of(sender), !SmtpPath.isAscii(sender), false, "local", "", "");
            QueueEntry dsn = queue.accept(in, env, "");
            LOG.info("drop_dir: {} refused; notice {} queued to <{}>", name, dsn.id(), sender);
        } catch (QueueException | IOException | RuntimeException e) {
            LOG.warn("drop_dir: cannot queue a notice for {}: {}", name, e.toString());
            if (in != null) {
                in.discard();
            }
        }
    }
}
