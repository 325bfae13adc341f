package relaybox.relay.intake;

import relaybox.relay.metrics.JamesMetricFactory;

import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.core.DataCmdHandler;

import static relaybox.relay.intake.MailCommand.reply;

/**
 * DATA: checks the transaction and switches the framer to message bytes. Subclasses James's
 * DataCmdHandler for its command plumbing, but neither its MailEnvelope (which holds the whole
 * message in heap and only ASCII addresses) nor its line-filter chain (which drops long lines and
 * mistakes dots in split lines) is used: the bytes go from {@link IntakeFramer} straight into the
 * {@link Transaction}'s spool stream, and {@link AcceptMessage} answers the final dot.
 */
final class DataCommand extends DataCmdHandler {

    DataCommand() {
        super(JamesMetricFactory.noop());
    }

    @Override
    protected Response doDATAFilter(SMTPSession s, String argument) {
        IntakeSession session = (IntakeSession) s;
        if (argument != null && !argument.isBlank()) {
            return reply("501", "5.5.4 Syntax: DATA");
        }
        if (session.transaction() == null) {
            return reply("503", "5.5.1 Error: need MAIL command");
        }
        if (session.transaction().recipients.isEmpty()) {
            return reply("554", "5.5.1 Error: no valid recipients");
        }
        return null;
    }

    @Override
    protected Response doDATA(SMTPSession s, String argument) {
        IntakeSession session = (IntakeSession) s;
        Intake intake = session.intake();
        String sender = session.transaction().sender;
        session.transaction().beginData(intake.signer.begin(sender), intake.config.maxMessageSize(),
                intake.localNames.domain(), intake.headerMemory, intake.upstreams.limitFor(sender),
                intake.upstreams.fromRewrite(sender));
        // Bare LFs are normalised only for clients that may relay; others keep the 550 (smuggling).
        session.framer().expectData(intake.bareNewline == relaybox.relay.config.LocalMailConfig.BareNewline.NORMALIZE
                && MailCommand.trusted(session));
        return reply("354", "End data with <CR><LF>.<CR><LF>");
    }
}
