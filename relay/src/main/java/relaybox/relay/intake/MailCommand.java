package relaybox.relay.intake;

import org.apache.james.protocols.api.ProtocolSession.State;
import org.apache.james.protocols.api.Request;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.api.handler.CommandHandler;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.apache.james.protocols.smtp.SMTPSession;
import relaybox.queue.Queue;
import relaybox.queue.QueueException;
import relaybox.relay.log.Refusal;

import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * MAIL FROM: starts a transaction. Replaces James's MailCmdHandler, whose address parsing refuses
 * SMTPUTF8 addresses. Accepts the parameters SIZE (refused with 552 5.3.4 above our limit), BODY
 * (7BIT or 8BITMIME, recorded), SMTPUTF8 (recorded) and AUTH (ignored); anything else is 555.
 * Reserves the message's spool space here ({@code queue.receive()}), so a full queue is
 * answered 452 4.3.1 before the client sends any bytes.
 */
final class MailCommand implements CommandHandler<SMTPSession> {

    @Override
    public Response onCommand(SMTPSession s, Request request) {
        IntakeSession session = (IntakeSession) s;
        Intake intake = session.intake();
        if (intake.draining) {
            SMTPResponse r = new SMTPResponse("421", "4.3.2 " + intake.config.hostname()
                    + " Service shutting down, closing connection");
            r.setEndSession(true);
            return r;
        }
        if (session.transaction() != null) {
            return reply("503", "5.5.1 Error: nested MAIL command");
        }
        if (session.getAttachment(SMTPSession.CURRENT_HELO_MODE, State.Connection).isEmpty()) {
            return reply("503", "5.5.1 Error: send HELO/EHLO first");
        }
        SmtpPath path = SmtpPath.parse(request.getArgument(), "FROM").orElse(null);
        if (path == null) {
            return reply("501", "5.5.4 Syntax: MAIL FROM:<address>");
        }
        boolean smtputf8 = false;
        boolean eightBit = false;
        long declared = -1;
        for (String p : path.parameters()) {
            int eq = p.indexOf('=');
            String name = (eq < 0 ? p : p.substring(0, eq)).toUpperCase(Locale.ROOT);
            String value = eq < 0 ? "" : p.substring(eq + 1);
            switch (name) {
                case "SIZE" -> {
                    if (!value.matches("\\d{1,18}")) {
                        return reply("501", "5.5.4 Bad SIZE parameter");
                    }
                    declared = Long.parseLong(value);
                    if (declared > intake.config.maxMessageSize()) {
                        return reply("552", AcceptMessage.TOO_BIG);
                    }
                }
                case "BODY" -> {
                    String v = value.toUpperCase(Locale.ROOT);
                    if (!v.equals("7BIT") && !v.equals("8BITMIME")) {
                        return reply("501", "5.5.4 Unsupported BODY parameter");
                    }
                    eightBit = v.equals("8BITMIME");
                }
                case "SMTPUTF8" -> {
                    if (!value.isEmpty()) {
                        return reply("501", "5.5.4 SMTPUTF8 takes no value");
                    }
                    smtputf8 = true;
                }
                case "AUTH" -> {
                    // RFC 4954 AUTH=<mailbox>: we relay for the session, not for a claimed submitter.
                }
                default -> {
                    return reply("555", "5.5.4 Unsupported option: " + name);
                }
            }
        }
        String sender = path.address();
        if (relaybox.relay.local.LocalNames.isBare(sender) && trusted(session)) {
            // "MAIL FROM:<www-data>" from cron or a local script: qualified with local_domain.
            sender = intake.localNames.qualify(sender);
        }
        if (!sender.isEmpty() && !SmtpPath.isMailbox(sender)) {
            return reply("501", "5.1.7 Bad sender address syntax");
        }
        if (!smtputf8 && !SmtpPath.isAscii(sender)) {
            return reply("553", "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter");
        }
        UpstreamFacts.Limit limit = intake.upstreams.limitFor(sender);
        if (declared > limit.bytes()) {
            // Mail no upstream of this sender would take sits in the queue until it expires.
            return reply("552", AcceptMessage.tooBigFor(limit));
        }
        Queue.Incoming incoming;
        try {
            incoming = intake.queue.receive();
        } catch (QueueException e) {
            String client = session.getRemoteAddress().getAddress().getHostAddress();
            boolean full = e.kind() == QueueException.Kind.STORAGE_FULL;
            Response r = full ? reply("452", AcceptMessage.STORAGE_FULL) : reply("451", AcceptMessage.STORAGE_ERROR);
            intake.mailLog.rejected(sender, "", client, full ? Refusal.STORAGE_FULL : Refusal.STORAGE_ERROR,
                    r.getLines().get(0).toString());
            return r;
        } catch (RuntimeException e) {
            return reply("451", AcceptMessage.STORAGE_ERROR);
        }
        intake.openTransactions.incrementAndGet();
        session.startTransaction(new Transaction(sender, smtputf8, eightBit, incoming,
                intake.openTransactions::decrementAndGet));
        return reply("250", "2.1.0 Ok");
    }

    /** A client that may relay (intake_networks or authenticated): its bare names are local names. */
    static boolean trusted(IntakeSession session) {
        return session.intake().policy.allows(session.getRemoteAddress().getAddress(), session.getUsername() != null);
    }

    static Response reply(String code, String text) {
        return new SMTPResponse(code, text);
    }

    @Override
    public Collection<String> getImplCommands() {
        return List.of("MAIL");
    }
}
