package relaybox.admin;

import relaybox.queue.QueueException;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.QueueConfig;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.SocketPaths;
import relaybox.relay.control.ControlService;
import relaybox.relay.control.StatusSource;
import relaybox.relay.log.MailLog;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.time.Clock;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code --offline}: reads the queue store directly while the daemon is stopped, through the
 * same {@link ControlService} the daemon runs, so the output is identical. Only list and show use
 * it. The store's file lock tells us when the daemon is running; then we refuse and say so,
 * because two processes must never open one MapDB store.
 *
 * <p>Opening runs the queue's recovery (what the daemon would do at its next start anyway). When
 * run as root on a store owned by the service user, the files the open created or touched are
 * given back to the store's owner afterwards, so the daemon can still open them.
 */
final class OfflineControl implements Control {

    private final Path dir;
    private final MapDbQueue queue;
    private final ControlService service;

    private OfflineControl(Path dir, MapDbQueue queue) {
        this.dir = dir;
        this.queue = queue;
        Clock clock = Clock.systemUTC();
        this.service = new ControlService(queue, StatusSource.none(clock.instant()), null, null,
                new MailLog(line -> { }), clock);
    }

    /**
     * The store to open: --queue-dir, else --dev's, else the config file's queue_dir (read with
     * the daemon's own config reader: offline mode opens the store anyway), else the default.
     */
    static Path queueDir(Cli cli, ClientOptions client, Path override) throws CliException {
        if (override != null) {
            return override;
        }
        if (client.dev) {
            return SocketPaths.devDataDir();
        }
        Path file = client.configFile(cli);
        if (file == null) {
            return QueueConfig.DEFAULT_DIR;
        }
        try {
            return QueueConfig.from(ConfigReader.load(file)).dir();
        } catch (ConfigException e) {
            throw new CliException(Cli.USAGE, e.getMessage());
        }
    }

    static OfflineControl open(Path dir) throws CliException {
        if (!Files.isRegularFile(dir.resolve("queue.db"))) {
            throw new CliException(Cli.USAGE, "no queue store at " + dir.resolve("queue.db")
                    + " (give --queue-dir, or the config file's queue_dir)");
        }
        try {
            return new OfflineControl(dir, MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, Clock.systemUTC()));
        } catch (QueueException e) {
            if (String.valueOf(e.getMessage()).contains("locked by another process")) {
                throw new CliException(Cli.USAGE, "the queue store " + dir + " is locked: the relaybox daemon is "
                        + "running. Drop --offline to ask the daemon instead.");
            }
            throw new CliException(Cli.USAGE, "cannot open the queue store offline: " + e.getMessage());
        }
    }

    @Override
    public ControlReply call(ControlRequest request) throws CliException {
        ControlReply r = service.handle(request, "user=offline");
        if (!r.ok()) {
            throw Control.failure(r);
        }
        return r;
    }

    @Override
    public void close() {
        service.close();
        queue.close();
        restoreOwnership(dir);
    }

    /** As root, give every file under the store back to the store directory's owner. */
    static void restoreOwnership(Path dir) {
        try {
            PosixFileAttributes d = Files.readAttributes(dir, PosixFileAttributes.class);
            UserPrincipal owner = d.owner();
            GroupPrincipal group = d.group();
            if (!"root".equals(System.getProperty("user.name")) || "root".equals(owner.getName())) {
                return;
            }
            List<Path> files;
            try (Stream<Path> s = Files.walk(dir)) {
                files = s.toList();
            }
            for (Path p : files) {
                PosixFileAttributeView v = Files.getFileAttributeView(p, PosixFileAttributeView.class,
                        LinkOption.NOFOLLOW_LINKS);
                PosixFileAttributes a = v.readAttributes();
                if (!a.owner().equals(owner)) {
                    v.setOwner(owner);
                    v.setGroup(group);
                }
            }
        } catch (IOException e) {
            System.err.println("relaybox: warning: could not give the queue files under " + dir
                    + " back to their owner: " + e.getMessage());
        }
    }
}
