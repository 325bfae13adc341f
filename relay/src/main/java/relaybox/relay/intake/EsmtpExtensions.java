package relaybox.relay.intake;

import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.core.esmtp.EhloExtension;

import java.util.List;

/**
 * The EHLO keywords relaybox adds to James's PIPELINING, ENHANCEDSTATUSCODES and 8BITMIME (and
 * its STARTTLS and AUTH, which James shows when they apply): SIZE with our limit, and SMTPUTF8,
 * which James does not offer.
 */
final class EsmtpExtensions implements EhloExtension, org.apache.james.protocols.api.handler.ProtocolHandler {

    private final long maxMessageSize;

    EsmtpExtensions(long maxMessageSize) {
        this.maxMessageSize = maxMessageSize;
    }

    @Override
    public List<String> getImplementedEsmtpFeatures(SMTPSession session) {
        return List.of("SIZE " + maxMessageSize, "SMTPUTF8");
    }
}
