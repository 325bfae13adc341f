package relaybox.relay.intake;

import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.protocols.api.handler.ProtocolHandler;
import org.apache.james.protocols.api.handler.WiringException;
import org.apache.james.protocols.smtp.SMTPProtocolHandlerChain;
import org.apache.james.protocols.smtp.core.DataCmdHandler;
import org.apache.james.protocols.smtp.core.DataLineMessageHookHandler;
import org.apache.james.protocols.smtp.core.MailCmdHandler;
import org.apache.james.protocols.smtp.core.PostmasterAbuseRcptHook;
import org.apache.james.protocols.smtp.core.RcptCmdHandler;
import org.apache.james.protocols.smtp.core.ReceivedDataLineFilter;
import org.apache.james.protocols.smtp.core.esmtp.AuthCmdHandler;
import org.apache.james.protocols.smtp.core.esmtp.MailSizeEsmtpExtension;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.metrics.JamesMetricFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Owns which James Protocols SMTP handlers the intake runs, for {@link IntakeServer}.
 *
 * <p>James's defaults minus: MailCmdHandler and RcptCmdHandler (ASCII-only address parsing; replaced
 * by {@link MailCommand} and {@link RcptCommand}), DataCmdHandler (replaced by {@link DataCommand}),
 * MailSizeEsmtpExtension (counts dot-stuffed bytes; SIZE is ours), AuthCmdHandler (asks for a
 * password before it looks at TLS and checks it on the event loop; replaced by {@link AuthExchange}),
 * ReceivedDataLineFilter (rewrites
 * the client's bytes and does a reverse DNS lookup), DataLineMessageHookHandler (buffers and
 * hands truncated messages to hooks) and PostmasterAbuseRcptHook (accepts postmaster for any
 * client, bypassing the relay policy). Ours are appended after the remaining defaults.
 */
final class IntakeChain {
    private IntakeChain() {
    }

    static SMTPProtocolHandlerChain build(IntakeConfig config, AuthExchange auth) throws WiringException {
        return build(config, auth, JamesMetricFactory.noop());
    }

    static SMTPProtocolHandlerChain build(IntakeConfig config, AuthExchange auth, MetricFactory metrics)
            throws WiringException {
        SMTPProtocolHandlerChain chain = new SMTPProtocolHandlerChain(metrics);
        List<ProtocolHandler> unwanted = new ArrayList<>();
        for (ProtocolHandler h : chain) {
            if (h instanceof MailCmdHandler || h instanceof RcptCmdHandler
                    || (h instanceof DataCmdHandler && !(h instanceof DataCommand))
                    || h instanceof MailSizeEsmtpExtension || h instanceof ReceivedDataLineFilter
                    || h instanceof DataLineMessageHookHandler || h instanceof PostmasterAbuseRcptHook
                    || h instanceof AuthCmdHandler
                    || (h instanceof org.apache.james.protocols.smtp.core.esmtp.EhloCmdHandler
                    && !(h instanceof EhloCommand))) {
                unwanted.add(h);
            }
        }
        // removeAll, not an iterator: the chain's iterator remove() does nothing.
        chain.removeAll(unwanted);
        chain.add(new EhloCommand(metrics));
        chain.add(new MailCommand());
        chain.add(new RcptCommand());
        chain.add(new DataCommand());
        chain.add(new EsmtpExtensions(config.maxMessageSize()));
        // AUTH lines never reach James (IntakeCoreHandler hands them to the exchange); it is in
        // the chain for the EHLO keyword only.
        chain.add(auth);
        chain.wireExtensibleHandlers();
        return chain;
    }
}
