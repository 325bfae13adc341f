package relaybox.relay.intake;

import org.junit.jupiter.api.BeforeEach;
import relaybox.relay.config.LocalMailConfig.BareNewline;
import relaybox.relay.local.LocalNames;

/**
 * Every hostile dialog of {@link HostileSessionTest} again, with the daemon's default
 * {@code intake_bare_newline = normalize} (and no local names): normalising bare LFs for trusted
 * clients must change none of those answers.
 */
class HostileSessionNormalizeTest extends HostileSessionTest {

    @BeforeEach
    void normalize() {
        h.server.localMail(LocalNames.NONE, BareNewline.NORMALIZE);
    }
}
