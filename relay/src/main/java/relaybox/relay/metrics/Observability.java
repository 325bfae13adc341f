package relaybox.relay.metrics;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.relay.config.MetricsConfig;
import relaybox.relay.config.QueueConfig;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The daemon's one handle on observability, so that {@code RelayDaemon} wires it in a few lines:
 * the {@link RelayMetrics} the stages report to, its James bridge, the health verdict, the
 * optional {@link MetricsServer} and the systemd notifier. Owns their start and stop order; the
 * events themselves are reported by the stages.
 *
 * <p>Call order: {@link #start} right after the queue is open and before the stages are built
 * (they take {@link #metrics()}); {@link #ready} once the intake is bound; {@link #close} after
 * the stages have stopped.
 */
public final class Observability implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Observability.class);

    private final RelayMetrics metrics;
    private final HealthSource health;
    private final MetricsServer server;
    private final SystemdNotifier systemd;

    private Observability(RelayMetrics metrics, HealthSource health, MetricsServer server, SystemdNotifier systemd) {
        this.metrics = metrics;
        this.health = health;
        this.server = server;
        this.systemd = systemd;
    }

    /**
     * Creates the metrics, binds the queue and store gauges, and starts the HTTP endpoint when
     * {@code metrics_listen} is set.
     *
     * @param intakeAccepting true while the intake is bound (read per /healthz request)
     * @throws IOException the metrics address cannot be bound (a start-up error, like the intake's)
     */
    public static Observability start(MetricsConfig config, QueueConfig queueConfig, Queue queue,
                                      BooleanSupplier intakeAccepting, Clock clock) throws IOException {
        RelayMetrics metrics = new RelayMetrics();
        metrics.bindQueue(queue, clock);
        metrics.bindStore(queueConfig.dir(), queueConfig.minFreeSpace());
        HealthSource health = HealthSource.of(queue, queueConfig.dir(), queueConfig.minFreeSpace(), intakeAccepting,
                metrics::linkStates, metrics::linkReasons, metrics::pauseDetails);
        MetricsServer server = null;
        Optional<InetSocketAddress> address = config.address();
        if (address.isPresent()) {
            try {
                server = MetricsServer.start(address.get(), config.path(), metrics, health);
            } catch (IOException e) {
                metrics.close();
                throw new IOException("metrics_listen " + config.listen() + ": " + e.getMessage(), e);
            }
            LOG.info("metrics on http://{}{}, health on {}", hostPort(server.address()), config.path(),
                    MetricsConfig.HEALTH_PATH);
        }
        return new Observability(metrics, health, server, SystemdNotifier.fromEnvironment());
    }

    public RelayMetrics metrics() {
        return metrics;
    }

    /** For {@code SMTPProtocolHandlerChain} (and James's command handlers) in the intake. */
    public JamesMetricFactory jamesMetricFactory() {
        return new JamesMetricFactory(metrics);
    }

    /** What /healthz judges; also for {@code relaybox status} through the control service. */
    public HealthSource health() {
        return health;
    }

    /** The bound metrics address, when the endpoint is on. */
    public Optional<InetSocketAddress> metricsAddress() {
        return Optional.ofNullable(server).map(MetricsServer::address);
    }

    /**
     * The intake accepts: tells systemd (Type=notify) and starts the watchdog, which pings while
     * the store still answers (a health evaluation completes) and stops pinging if it hangs.
     */
    public void ready(String status) {
        systemd.ready(status);
        systemd.startWatchdog(() -> {
            Health.evaluate(health);
            return true;
        });
    }

    /** Shutdown has begun (call first in the shutdown hook). */
    public void stopping() {
        systemd.stopping();
    }

    @Override
    public void close() {
        systemd.close();
        if (server != null) {
            server.close();
        }
        metrics.close();
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }
}
