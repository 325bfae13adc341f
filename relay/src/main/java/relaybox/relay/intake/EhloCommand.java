package relaybox.relay.intake;

import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.core.esmtp.EhloCmdHandler;

import java.util.List;

/**
 * James's EHLO, with its first reply line corrected: James 3.8.1 writes
 * {@code 250-host Hello name [127.0.0.1])}, a parenthesis it never opened. Everything else
 * (hooks, extensions, session state) is James's own.
 */
final class EhloCommand extends EhloCmdHandler {

    EhloCommand(MetricFactory metrics) {
        super(metrics);
    }

    @Override
    protected Response doCoreCmd(SMTPSession session, String command, String parameters) {
        Response r = super.doCoreCmd(session, command, parameters);
        if (!(r instanceof SMTPResponse s) || !"250".equals(s.getRetCode())) {
            return r;
        }
        // getLines() are formatted ("250-text", last "250 text"); rebuild from their text.
        List<CharSequence> lines = s.getLines();
        String first = lines.get(0).toString().substring(4);
        SMTPResponse fixed = new SMTPResponse("250", first.endsWith("])") ? first.substring(0, first.length() - 1) : first);
        for (CharSequence l : lines.subList(1, lines.size())) {
            fixed.appendLine(l.toString().substring(4));
        }
        fixed.setEndSession(s.isEndSession());
        return fixed;
    }
}
