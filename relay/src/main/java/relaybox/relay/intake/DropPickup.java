package relaybox.relay.intake;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.local.LocalNames;
import relaybox.relay.log.MailEvents;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Owns the drop directory ({@code drop_dir}): the mail {@code sendmail} writes there (its default
 * way in, and its fallback when it was told to use SMTP and the daemon could not be reached). At
 * start, whenever a file appears (a watch on the directory) and every {@code drop_poll_interval}
 * it takes each finished file ({@code m.*}; a writer renames its {@code t.*} file to that only after fsync, so a
 * half-written file is never seen), validates it as the intake validates an SMTP client's message
 * ({@link DropFile}: syntax of sender and recipients, their number, the size limit, CRLF lines),
 * qualifies and aliases local names, and hands it to {@link DropQueuing}, which qualifies
 * From/To/Cc, adds a {@code Received:} line naming the submitter's uid, signs, accepts it into the
 * queue, and only then deletes the file.
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
    private final LocalNames names;
    private final IntakeConfig config;
    private final Clock clock;
    private final DropQueuing queuing;
    private Thread thread;
    private volatile boolean stopping;
    /** The pickup thread's watch, closed by {@link #close} to wake it. Guarded by this. */
    private WatchService watcher;
    /** What the upstreams take and the From rewrite per sender; call before {@link #start()}. */
    public DropPickup upstreams(UpstreamFacts facts) {
        queuing.upstreams = facts;
        return this;
    }

    public DropPickup(Path dir, Duration poll, Queue queue, MessageSigner signer, LocalNames names,
                      IntakeConfig config, MailEvents mailLog, Clock clock) {
        this.dir = dir;
        this.poll = poll;
        this.names = names;
        this.config = config;
        this.clock = clock;
        this.queuing = new DropQueuing(dir.resolve(BAD), queue, signer, names, config, mailLog, clock);
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
        // Watched before the first scan: a file written between the two is seen by one or the other.
        WatchService w = watch();
        try {
            scan();
        } catch (IOException | RuntimeException e) {
            closeQuietly(w);
            throw e;
        }
        thread = new Thread(() -> loop(w), "drop-pickup");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop(WatchService watch) {
        try {
            while (!stopping) {
                try {
                    await(watch);
                    if (!stopping) {
                        scan();
                    }
                } catch (InterruptedException | ClosedWatchServiceException e) {
                    return;
                } catch (RuntimeException | IOException e) {
                    LOG.error("drop_dir {}: {}", dir, e.toString(), e);
                }
            }
        } finally {
            closeQuietly(watch);
        }
    }

    /**
     * Watches the directory (inotify), so that a file sendmail writes while the daemon runs is
     * queued at once: it is sendmail's first way in, not only its fallback. Without a watch
     * (none left, or a file system without notification) the poll alone finds files.
     */
    private WatchService watch() {
        try {
            WatchService w = dir.getFileSystem().newWatchService();
            dir.register(w, StandardWatchEventKinds.ENTRY_CREATE);
            synchronized (this) {
                watcher = w;
                if (stopping) {
                    closeQuietly(w);
                }
            }
            return w;
        } catch (IOException | UnsupportedOperationException e) {
            LOG.warn("drop_dir {}: cannot watch it ({}); looking every {} instead", dir, e.toString(), poll);
            return null;
        }
    }

    /** Until a file is created in the directory (a writer's rename included), or drop_poll_interval passes. */
    private void await(WatchService watch) throws InterruptedException {
        if (watch == null) {
            synchronized (this) {
                if (!stopping) {
                    wait(poll.toMillis());
                }
            }
            return;
        }
        WatchKey key = watch.poll(poll.toMillis(), TimeUnit.MILLISECONDS);
        if (key != null) {
            // One scan takes every file there: the events themselves say nothing more.
            key.pollEvents();
            key.reset();
        }
    }

    private static void closeQuietly(WatchService w) {
        if (w != null) {
            try {
                w.close();
            } catch (IOException e) {
                // Closing only frees the inotify descriptor.
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
            queuing.moveAside(p, uid, null, "not a regular file with one link");
            return false;
        }
        DropFile file;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS), 65536)) {
            file = DropFile.read(in, names, config.maxRecipients());
            if (file.invalid() != null) {
                queuing.moveAside(p, uid, file.sender(), file.invalid());
                return false;
            }
            return queuing.queue(p, name, uid, file, in);
        } catch (IOException e) {
            LOG.warn("drop_dir: cannot read {}: {}", name, e.toString());
            queuing.moveAside(p, uid, null, "unreadable: " + e.getMessage());
            return false;
        }
    }

    /** Stops looking; a file being queued is finished first. */
    @Override
    public void close() {
        // No interrupt: it would close the spool's file channels under a running accept.
        synchronized (this) {
            stopping = true;
            notifyAll();
            closeQuietly(watcher);
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
