package relaybox.relay.intake;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.local.HeaderQualifier;
import relaybox.relay.local.LocalNames;
import relaybox.relay.log.MailEvents;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Owns the drop directory ({@code drop_dir}): the mail {@code sendmail} wrote there because the
 * daemon could not be reached. At start and then every {@code drop_poll_interval} it takes each
 * finished file ({@code m.*}; a writer renames its {@code t.*} file to that only after fsync, so a
 * half-written file is never seen), validates it as the intake validates an SMTP client's message
 * ({@link DropFile}: syntax of sender and recipients, their number, the size limit, CRLF lines),
 * qualifies and aliases local names, qualifies From/To/Cc, adds a {@code Received:} line naming
 * the submitter's uid, signs, accepts it into the queue, and only then deletes the file.
 *
 * <h2>Why files are moved before they are read</h2>
 * The directory is writable by everyone (sticky, setgid relaybox, mode 3733), so a submitter could
 * swap its own file for a hard link to something only relaybox may read between our check and
 * our read. A file is therefore first renamed into {@code .taken/} (mode 0700, ours; the sticky bit
 * lets only the directory's owner do that with another user's file), and only there checked (a
 * regular file with one link) and read: nobody else can reach it any more.
 *
 * <h2>Failure behaviour</h2>
 * A file that fails validation is moved to {@code .bad/} with a mail-log line and, when it names a
 * sender, a DSN to that sender; never deleted silently. A queue that cannot take it now (full
 * disk, storage error) leaves it in {@code .taken/} to be tried again at the next scan. A crash
 * after the accept and before the delete means the file is taken again: sent twice, never lost.
 * {@code t.*} files older than a day were left by a writer that died; they are deleted.
 *
 * <p>Thread safety: one thread of its own does all the work.
 */
public final class DropPickup implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DropPickup.class);
    static final String TAKEN = ".taken";
    static final String BAD = ".bad";
    private static final Duration STALE_TEMP = Duration.ofDays(1);

    private final Path dir;
    private final Duration poll;
    private final Queue queue;
    private final MessageSigner signer;
    private final LocalNames names;
    private final IntakeConfig config;
    private final MailEvents mailLog;
    private final Clock clock;
    private Thread thread;
    private volatile boolean stopping;
    /** The upstreams' size limits and From rewrites, as for SMTP intake. */
    private volatile UpstreamFacts upstreams = UpstreamFacts.NONE;

    /** What the upstreams take and the From rewrite per sender; call before {@link #start()}. */
    public DropPickup upstreams(UpstreamFacts facts) {
        this.upstreams = facts;
        return this;
    }

    public DropPickup(Path dir, Duration poll, Queue queue, MessageSigner signer, LocalNames names,
                      IntakeConfig config, MailEvents mailLog, Clock clock) {
        this.dir = dir;
        this.poll = poll;
        this.queue = queue;
        this.signer = signer;
        this.names = names;
        this.config = config;
        this.mailLog = mailLog;
        this.clock = clock;
    }

    /**
     * Takes in what is waiting, then keeps looking on a thread of its own. Without the directory
     * there is nothing to do (sendmail then says the message was NOT queued): logged, not fatal.
     */
    public void start() throws IOException {
        if (!Files.isDirectory(dir)) {
            LOG.warn("drop_dir {} does not exist: sendmail cannot queue mail while the daemon is down", dir);
            return;
        }
        for (String sub : new String[] {TAKEN, BAD}) {
            Path p = dir.resolve(sub);
            try {
                Files.createDirectory(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException e) {
                // Made by an earlier start or by the package.
            }
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
                    || !Files.getOwner(p, LinkOption.NOFOLLOW_LINKS).equals(Files.getOwner(dir))) {
                throw new IOException(p + " is not a directory owned by " + Files.getOwner(dir)
                        + ": remove it and restart");
            }
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        }
        scan();
        thread = new Thread(this::loop, "drop-pickup");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        while (!stopping) {
            try {
                synchronized (this) {
                    if (!stopping) {
                        wait(poll.toMillis());
                    }
                }
                if (!stopping) {
                    scan();
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException | IOException e) {
                LOG.error("drop_dir {}: {}", dir, e.toString(), e);
            }
        }
    }

    /** One pass: files left in .taken first (a crash or a full queue), then new ones. Returns how many were queued. */
    public int scan() throws IOException {
        int queued = 0;
        for (Path p : list(dir.resolve(TAKEN))) {
            if (stopping) {
                return queued;
            }
            queued += process(p) ? 1 : 0;
        }
        for (Path p : list(dir)) {
            if (stopping) {
                return queued;
            }
            String name = p.getFileName().toString();
            if (name.startsWith("t.")) {
                removeStale(p);
                continue;
            }
            if (!name.startsWith("m.")) {
                continue;
            }
            Path taken = dir.resolve(TAKEN).resolve(name);
            try {
                Files.move(p, taken, StandardCopyOption.ATOMIC_MOVE);
            } catch (NoSuchFileException gone) {
                continue;
            }
            queued += process(taken) ? 1 : 0;
        }
        return queued;
    }

    private List<Path> list(Path d) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
            for (Path p : s) {
                String n = p.getFileName().toString();
                if (!n.equals(TAKEN) && !n.equals(BAD)) {
                    out.add(p);
                }
            }
        }
        // Oldest name first: names start with the writer's time.
        out.sort(null);
        return out;
    }

    private void removeStale(Path p) {
        try {
            FileTime m = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
            if (m.toInstant().plus(STALE_TEMP).isBefore(clock.instant())) {
                Files.deleteIfExists(p);
                LOG.info("drop_dir: removed {}, left half-written by a sendmail that did not finish", p.getFileName());
            }
        } catch (IOException e) {
            // Gone already, or not ours to judge: try again at the next scan.
        }
    }

    /** Queues one taken file; true when it was queued (and deleted). */
    private boolean process(Path p) {
        String name = p.getFileName().toString();
        Map<String, Object> attrs;
        try {
            attrs = Files.readAttributes(p, "unix:uid,nlink,mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            LOG.warn("drop_dir: cannot read the attributes of {}: {}", name, e.toString());
            return false;
        }
        int uid = (Integer) attrs.get("uid");
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || (Integer) attrs.get("nlink") != 1) {
            moveAside(p, uid, null, "not a regular file with one link");
            return false;
        }
        DropFile file;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS), 65536)) {
            file = DropFile.read(in, names, config.maxRecipients());
            if (file.invalid() != null) {
                moveAside(p, uid, file.sender(), file.invalid());
                return false;
            }
            return queue(p, name, uid, file, in);
        } catch (IOException e) {
            LOG.warn("drop_dir: cannot read {}: {}", name, e.toString());
            moveAside(p, uid, null, "unreadable: " + e.getMessage());
            return false;
        }
    }

    private boolean queue(Path p, String name, int uid, DropFile file, InputStream in) throws IOException {
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
            relaybox.relay.local.FromRewriter rewriter = fromRewrite.isEmpty() ? null
                    : new relaybox.relay.local.FromRewriter(fromRewrite, store);
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

    private void moveAside(Path p, int uid, String sender, String reason) {
        String name = p.getFileName().toString();
        try {
            Files.move(p, dir.resolve(BAD).resolve(name), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            LOG.error("drop_dir: cannot move {} aside to {}: {}", name, BAD, e.toString());
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

    /** Stops looking; a file being queued is finished first. */
    @Override
    public void close() {
        // No interrupt: it would close the spool's file channels under a running accept.
        synchronized (this) {
            stopping = true;
            notifyAll();
        }
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
