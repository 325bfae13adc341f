package relaybox.relay.config;

import java.nio.file.Path;

/**
 * The daemon's whole configuration, immutable, built in one place: defaults, then the file, then
 * validation of every key. Each stage owns its record and its keys (prefix {@code intake_},
 * {@code queue_}, {@code forward_}, {@code dkim_}, {@code control_}, {@code metrics_}); this class
 * only composes them and rejects keys that no stage knows. Changes take effect on restart.
 *
 * @param effective every key with the value in effect, defaults included, as TOML (config show)
 * @param local     local_domain, [aliases], intake_bare_newline, drop_*: relaybox as the host's MTA
 */
public record RelayConfig(Path file, IntakeConfig intake, QueueConfig queue, ForwardConfig forward, DkimConfig dkim,
                          ControlConfig control, MetricsConfig metrics, LogConfig log, String effective,
                          LocalMailConfig local) {

    /**
     * Reads and validates {@code file}; every error names the file and the key. The files it
     * names are checked by {@code ConfigFiles} (at start and by {@code config check}).
     */
    public static RelayConfig load(Path file) throws ConfigException {
        return from(file, ConfigReader.load(file));
    }

    public static RelayConfig from(Path file, ConfigReader r) throws ConfigException {
        IntakeConfig intake = IntakeConfig.from(r);
        QueueConfig queue = QueueConfig.from(r);
        ForwardConfig forward = ForwardConfig.from(r);
        if (forward.heloName().isEmpty()) {
            // "": the machine's FQDN, else intake_hostname, else the address literal; never "localhost".
            forward = forward.withHeloName(HeloName.resolve(intake.hostname()));
        }
        DkimConfig dkim = DkimConfig.from(r);
        if (!dkim.expiry().isZero() && dkim.expiry().compareTo(queue.retry().lifetime()) <= 0) {
            // Mail retried late in its life would arrive with an expired signature.
            throw r.error("dkim_expiry", "must be 0s or longer than queue_lifetime ("
                    + queue.retry().lifetime().toDays() + "d)", dkim.expiry());
        }
        ControlConfig control = ControlConfig.from(r);
        MetricsConfig metrics = MetricsConfig.from(r);
        LogConfig log = LogConfig.from(r);
        LocalMailConfig local = LocalMailConfig.from(r);
        r.finish();
        return new RelayConfig(file, intake, queue, forward, dkim, control, metrics, log, r.render(), local);
    }
}
