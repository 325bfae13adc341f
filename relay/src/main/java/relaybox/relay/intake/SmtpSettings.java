package relaybox.relay.intake;

import org.apache.james.protocols.smtp.SMTPConfigurationImpl;
import relaybox.relay.config.IntakeConfig;

/**
 * Owns James's view of the intake's settings (names, size limit, relaying and AUTH announcement),
 * built by {@link IntakeServer} for each start.
 */
final class SmtpSettings extends SMTPConfigurationImpl {
    private final IntakeConfig config;
    private final boolean auth;
    private final RelayPolicy policy;

    SmtpSettings(IntakeConfig config, boolean auth, RelayPolicy policy) {
        this.config = config;
        this.auth = auth;
        this.policy = policy;
        setHeloEhloEnforcement(true);
    }

    @Override
    public String getHelloName() {
        return config.hostname();
    }

    @Override
    public String getGreeting() {
        return config.hostname() + " ESMTP relaybox";
    }

    @Override
    public String getSoftwareName() {
        return "relaybox";
    }

    @Override
    public long getMaxMessageSize() {
        return config.maxMessageSize();
    }

    @Override
    public boolean isRelayingAllowed(String remoteIP) {
        try {
            return policy.allows(java.net.InetAddress.getByName(remoteIP), false);
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    @Override
    public boolean isAuthAnnounced(String remoteIP, boolean tlsStarted) {
        // AUTH only over TLS: passwords never cross the network in the clear.
        return auth && tlsStarted;
    }

    @Override
    public boolean isPlainAuthEnabled() {
        return true;
    }
}
