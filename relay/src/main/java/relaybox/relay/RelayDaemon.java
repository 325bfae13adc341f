package relaybox.relay;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.queue.QueueException;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.RelayConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.intake.Credentials;
import relaybox.relay.intake.IntakeServer;
import relaybox.relay.log.MailLog;

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
 * the queue cannot be opened or a listener cannot be bound, 64 (EX_USAGE) for a bad command line.
 * Packaging tells systemd not to restart on 78.
 */
public final class RelayDaemon {

    public static final int EX_USAGE = 64;
    public static final int EX_OSERR = 71;
    public static final int EX_CONFIG = 78;

    /** --dev: SMTP on 127.0.0.1:2525, queue in ./relaybox-data, everything else default. */
    static final String DEV_CONFIG = """
            intake_listen = ["127.0.0.1:2525"]
            queue_dir = "./relaybox-data"
            """;

    private static final Logger LOG = LoggerFactory.getLogger(RelayDaemon.class);

    private final RelayConfig config;
    private Queue queue;
    private IntakeServer intake;

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
                config = RelayConfig.from(null, ConfigReader.parse("(--dev defaults)", DEV_CONFIG));
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
        RelayDaemon daemon = new RelayDaemon(config);
        try {
            daemon.start();
        } catch (QueueException e) {
            LOG.error("cannot open the queue in {}: {}", config.queue().dir(), e.getMessage(), e);
            daemon.stop();
            return EX_OSERR;
        } catch (Exception e) {
            LOG.error("cannot start: {}", e.toString(), e);
            daemon.stop();
            return EX_OSERR;
        }
        CountDownLatch stopRequested = new CountDownLatch(1);
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
        return 0;
    }

    void start() throws Exception {
        queue = MapDbQueue.open(config.queue().dir(), config.queue().minFreeSpace(), config.queue().retry(),
                Clock.systemUTC());
        MailLog mailLog = new MailLog();
        MessageSigner signer = MessageSigner.NONE;
        // TODO(lead): DKIM signer from the dkim_* settings replaces MessageSigner.NONE here.
        intake = new IntakeServer(config.intake(), queue, signer, mailLog);
        intake.start();
        // TODO(lead): start the dispatcher and forwarder here (and stop them in stop(), before the queue).
        LOG.info("relaybox started: intake on {}, queue in {}", intake.boundAddresses(), config.queue().dir());
    }

    /** Stops in reverse order of start. Idempotent. */
    synchronized void stop() {
        if (intake != null) {
            intake.stop();
            intake = null;
        }
        if (queue != null) {
            queue.close();
            queue = null;
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
