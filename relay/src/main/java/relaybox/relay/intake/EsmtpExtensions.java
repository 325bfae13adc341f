package relaybox.relay.intake;

import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.core.esmtp.EhloExtension;

import java.util.List;

/**
 * The EHLO keywords relaybox adds to James's PIPELINING, ENHANCEDSTATUSCODES and 8BITMIME (and
 * its STARTTLS and AUTH, which James shows when they apply): SIZE with our limit (or the largest
 * upstream's, when that is smaller), and SMTPUTF8,
 * which James does not offer.
 */
final class EsmtpExtensions implements EhloExtension, org.apache.james.protocols.api.handler.ProtocolHandler {

    private final long maxMessageSize;

    EsmtpExtensions(long maxMessageSize) {
        this.maxMessageSize = maxMessageSize;
    }

    @Override
    public List<String> getImplementedEsmtpFeatures(SMTPSession session) {
        // The upstreams' SIZE when smaller: no point taking what none of them will carry.
        long size = session instanceof IntakeSession s ? s.intake().advertisedSize() : maxMessageSize;
        return List.of("SIZE " + size, "SMTPUTF8");
    }
}
