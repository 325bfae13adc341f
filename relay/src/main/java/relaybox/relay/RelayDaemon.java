package relaybox.relay;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.queue.QueueException;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.RelayConfig;
import relaybox.relay.dkim.DkimSigner;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.forward.IntakeView;
import relaybox.relay.forward.UpstreamSizes;
import relaybox.relay.control.ControlServer;
import relaybox.relay.control.ControlService;
import relaybox.relay.control.RetentionSweep;
import relaybox.relay.forward.Dispatcher;
import relaybox.relay.forward.UpstreamProbe;
import relaybox.relay.intake.Credentials;
import relaybox.relay.intake.DropPickup;
import relaybox.relay.intake.IntakeServer;
import relaybox.relay.local.LocalNames;
import relaybox.relay.log.LogSetup;
import relaybox.relay.log.MailEvents;
import relaybox.relay.log.MailLog;
import relaybox.relay.metrics.MailMetrics;
import relaybox.relay.metrics.Observability;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.CountDownLatch;

/**
 * The daemon: wiring only. Loads the configuration, opens the queue, starts the intake (and the
 * dispatcher and forwarder), and on SIGTERM stops them in reverse order: the intake stops
 * accepting and lets open transactions finish, then the queue is closed cleanly.
 *
 * <p>Exit codes: 0 after a clean stop, 78 (EX_CONFIG) for a bad configuration, 71 (EX_OSERR) when
 * the queue cannot be opened or a listener cannot be bound, 64 (EX_USAGE) for a bad command line,
 * 75 (EX_TEMPFAIL) after stopping because the queue's index turned out damaged while running (the
 * next start rebuilds it from the spool). Packaging tells systemd not to restart on 78 only.
 */
public final class RelayDaemon {

    public static final int EX_USAGE = 64;
    public static final int EX_OSERR = 71;
    public static final int EX_TEMPFAIL = 75;
    public static final int EX_CONFIG = 78;

    /**
     * --dev: SMTP on 127.0.0.1:2525, queue and control socket in ./relaybox-data, mail as .eml
     * files in ./relaybox-data/outbox: runs unprivileged, and nothing reaches real people.
     */
    static String devConfig() {
        String data = devDataDir().toString().replace("\\", "\\\\");
        return """
                intake_listen = ["127.0.0.1:2525"]
                queue_dir = "%1$s"
                control_socket = "%1$s/control.sock"
                control_group = ""
                drop_dir = "%1$s/maildrop"

                [[upstream]]
                name = "outbox"
                type = "outbox"
                dir = "%1$s/outbox"
                """.formatted(data);
    }

    /** Where {@code run --dev} keeps its queue and control socket: ./relaybox-data. */
    public static Path devDataDir() {
        return relaybox.relay.control.api.SocketPaths.devDataDir();
    }

    private static final Logger LOG = LoggerFactory.getLogger(RelayDaemon.class);

    private final RelayConfig config;
    private Queue queue;
    private IntakeServer intake;
    private DropPickup pickup;
    private Dispatcher dispatcher;
    private ControlServer control;
    private RetentionSweep retention;
    private Observability observability;

    /** Counted down by a signal, or by the queue when its index turns out damaged. */
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private volatile int exitCode = 0;

    RelayDaemon(RelayConfig config) {
        this.config = config;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length == 1 && args[0].equals("hash-password")) {
            return hashPassword();
        }
        RelayConfig config;
        try {
            if (args.length == 2 && args[0].equals("run") && args[1].equals("--dev")) {
                config = RelayConfig.from(null, ConfigReader.parse("(--dev defaults)", devConfig()));
            } else if (args.length == 3 && args[0].equals("run") && args[1].equals("--config")) {
                config = RelayConfig.load(Path.of(args[2]));
            } else {
                System.err.println("usage: relaybox run --config FILE | relaybox run --dev | relaybox hash-password");
                return EX_USAGE;
            }
        } catch (ConfigException e) {
            System.err.println("relaybox: " + e.getMessage());
            return EX_CONFIG;
        }
        // log_format: switch before the stages log anything.
        LogSetup.apply(config.log());
        try {
            // Every file the configuration names, before anything opens: a bad one stops the
            // daemon here, once, with the key named (systemd does not restart on 78).
            new ConfigFiles(ConfigFiles.NO_OTHERS, true).check(config, LOG::warn);
        } catch (ConfigException e) {
            System.err.println("relaybox: " + e.getMessage());
            return EX_CONFIG;
        }
        RelayDaemon daemon = new RelayDaemon(config);
        try {
            daemon.start();
        } catch (ConfigException e) {
            // What the file check cannot see ahead (a listener address that does not resolve is
            // not one of these): still no stack trace, still no restart.
            System.err.println("relaybox: " + e.getMessage());
            daemon.stop();
            return EX_CONFIG;
        } catch (QueueException e) {
            LOG.error("cannot open the queue in {}: {}", config.queue().dir(), e.getMessage(), e);
            daemon.stop();
            return EX_OSERR;
        } catch (Exception e) {
            LOG.error("cannot start: {}", e.toString(), e);
            daemon.stop();
            return EX_OSERR;
        }
        CountDownLatch stopRequested = daemon.stopRequested;
        // SIGTERM and SIGINT are handled here rather than by a shutdown hook alone, so that the
        // daemon stops in order on the main thread and exits 0 (a JVM ended by the signal exits 143).
        for (String name : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
                LOG.info("stopping (SIG{})", sig.getName());
                stopRequested.countDown();
            });
        }
        // Any other way out of the JVM still closes the queue cleanly.
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::stop, "relaybox-shutdown"));
        try {
            // The intake's threads are daemon threads; main waits here until a stop is asked for.
            stopRequested.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        daemon.stop();
        LOG.info("relaybox stopped");
        return daemon.exitCode;
    }

    void start() throws Exception {
        queue = MapDbQueue.open(config.queue().dir(), config.queue().minFreeSpace(), config.queue().retry(),
                Clock.systemUTC(), config.queue().compactLivePercent(), config.queue().compactMinAge());
        // Metrics and health come up before the stages, which report to them from their first event.
        observability = Observability.start(config.metrics(), config.queue(), queue,
                () -> intake != null && !intake.boundAddresses().isEmpty(), Clock.systemUTC());
        DaemonStatus status = new DaemonStatus(Clock.systemUTC());
        // Each event once: the log writes its line, the metrics and the status count it.
        MailEvents mailLog = MailEvents.all(new MailLog(), new MailMetrics(observability.metrics()), status);
        if (queue instanceof MapDbQueue q) {
            q.quarantinedAtOpen().forEach(x -> mailLog.quarantined(x.id(), x.reason()));
            q.onQuarantine(x -> mailLog.quarantined(x.id(), x.reason()));
            // Crash-only: the next start recovers the queue from the spool (a damaged index is
            // rebuilt), which systemd makes at once (the unit restarts on any failure but a
            // configuration error). Until then the queue refuses every write.
            q.onUntrusted(why -> {
                LOG.error("stopping: {}", why);
                exitCode = EX_TEMPFAIL;
                stopRequested.countDown();
            });
        }
        MessageSigner signer = DkimSigner.create(config.dkim(), Clock.systemUTC());
        // The dispatcher starts first so that mail queued before a crash drains while intake opens.
        // The SIZE each upstream last advertised, kept in the queue directory across restarts.
        UpstreamSizes sizes = UpstreamSizes.open(config.queue().dir());
        dispatcher = Dispatcher.start(queue, config.forward(), mailLog, Clock.systemUTC(), observability.metrics(),
                signer, sizes, Dispatcher.pauseFile(config.queue().dir()));
        IntakeView upstreamFacts = new IntakeView(config.forward(), sizes);
        intake = new IntakeServer(config.intake(), queue, signer, mailLog, Clock.systemDefaultZone(),
                observability.metrics());
        intake.upstreams(upstreamFacts);
        LocalNames names = LocalNames.of(config.local());
        intake.localMail(names, config.local().bareNewline());
        intake.start();
        // After the intake: what sendmail wrote into the drop directory while the daemon was down
        // is taken in now, and then as it comes.
        pickup = new DropPickup(config.local().dropDir(), config.local().dropPoll(), queue, signer, names,
                config.intake(), mailLog, Clock.systemDefaultZone());
        pickup.upstreams(upstreamFacts);
        pickup.start();
        UpstreamProbe probe = new UpstreamProbe(config.forward(), dispatcher::forwarder);
        ControlService service = new ControlService(queue, status, probe::probeAll,
                config::effective, mailLog, Clock.systemUTC());
        service.onRetry(dispatcher::probeNow);
        Dispatcher d = dispatcher;
        service.pauses(new relaybox.relay.control.UpstreamPauses() {
            @Override
            public boolean pause(String name, java.time.Duration length, String by) {
                return d.pause(name, length, by).isPresent();
            }

            @Override
            public boolean resume(String name, String by) {
                return d.resume(name, by).isPresent();
            }
        });
        retention = RetentionSweep.start(service, config.queue().failedRetention(), Clock.systemUTC());
        control = new ControlServer(config.control(), service);
        control.start();
        status.attach(intake, dispatcher, config.forward().upstreams().stream().map(u -> u.name()).toList(),
                control.socket().toString(), observability.metricsAddress());
        observability.ready("accepting mail on " + intake.boundAddresses());
        LOG.info("relaybox started: intake on {}, queue in {}", intake.boundAddresses(), config.queue().dir());
    }

    /** Stops in reverse order of start. Idempotent. */
    synchronized void stop() {
        if (observability != null) {
            observability.stopping();
        }
        if (retention != null) {
            retention.close();
            retention = null;
        }
        if (control != null) {
            control.close();
            control = null;
        }
        if (pickup != null) {
            pickup.close();
            pickup = null;
        }
        if (intake != null) {
            intake.stop();
            intake = null;
        }
        if (dispatcher != null) {
            // Returns the leases of attempts it abandons, so nothing stays in sending.
            dispatcher.close();
            dispatcher = null;
        }
        if (queue != null) {
            queue.close();
            queue = null;
        }
        if (observability != null) {
            observability.close();
            observability = null;
        }
    }

    IntakeServer intake() {
        return intake;
    }

    /** Reads a password on stdin and prints the hash part of an intake_auth_credentials line. */
    private static int hashPassword() {
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String pw = r.readLine();
            if (pw == null || pw.isEmpty()) {
                System.err.println("relaybox: give the password on standard input");
                return EX_USAGE;
            }
            System.out.println(Credentials.hash(pw));
            return 0;
        } catch (java.io.IOException e) {
            System.err.println("relaybox: " + e.getMessage());
            return EX_OSERR;
        }
    }
}
