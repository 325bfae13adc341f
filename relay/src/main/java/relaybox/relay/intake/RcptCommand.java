package relaybox.relay.intake;

import org.apache.james.protocols.api.Request;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.api.handler.CommandHandler;
import org.apache.james.protocols.smtp.SMTPSession;
import relaybox.relay.log.Refusal;

import java.util.Collection;
import java.util.List;

import static relaybox.relay.intake.MailCommand.reply;

/**
 * RCPT TO: adds a recipient. Replaces James's RcptCmdHandler (its address parsing refuses
 * SMTPUTF8 addresses). This is where the relay policy is applied: a client outside
 * {@code intake_networks} that did not authenticate gets {@code 554 5.7.1 Relay access denied}
 * and a mail-log line. No RCPT parameters are supported (no DSN), so any is refused with 555.
 */
final class RcptCommand implements CommandHandler<SMTPSession> {

    @Override
    public Response onCommand(SMTPSession s, Request request) {
        IntakeSession session = (IntakeSession) s;
        Intake intake = session.intake();
        Transaction t = session.transaction();
        if (t == null) {
            return reply("503", "5.5.1 Error: need MAIL command");
        }
        SmtpPath path = SmtpPath.parse(request.getArgument(), "TO").orElse(null);
        if (path == null) {
            return reply("501", "5.5.4 Syntax: RCPT TO:<address>");
        }
        if (!path.parameters().isEmpty()) {
            return reply("555", "5.5.4 Unsupported option: " + path.parameters().get(0));
        }
        String rcpt = path.address();
        boolean trusted = MailCommand.trusted(session);
        if (trusted && relaybox.relay.local.LocalNames.isBare(rcpt)) {
            // "RCPT TO:<root>" from cron: a local name, qualified with local_domain.
            rcpt = intake.localNames.qualify(rcpt);
        }
        if (!SmtpPath.isMailbox(rcpt)) {
            return reply("501", "5.1.3 Bad recipient address syntax");
        }
        if (!t.smtputf8 && !SmtpPath.isAscii(rcpt)) {
            return reply("553", "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter");
        }
        if (!trusted) {
            Response r = reply("554", "5.7.1 <" + rcpt + ">: Relay access denied");
            intake.mailLog.rejected(t.sender, rcpt, session.getRemoteAddress().getAddress().getHostAddress(),
                    Refusal.RELAY_DENIED, r.getLines().get(0).toString());
            return r;
        }
        if (t.recipients.size() >= intake.config.maxRecipients()) {
            return reply("452", "4.5.3 Error: too many recipients");
        }
        // Aliases are applied here, before queueing: the envelope and the mail log hold the real addresses.
        for (String a : intake.localNames.expand(rcpt)) {
            if (!t.recipients.contains(a)) {
                t.recipients.add(a);
            }
        }
        return reply("250", "2.1.5 Ok");
    }

    @Override
    public Collection<String> getImplCommands() {
        return List.of("RCPT");
    }
}
