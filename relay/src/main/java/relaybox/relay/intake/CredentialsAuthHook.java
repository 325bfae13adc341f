package relaybox.relay.intake;

import org.apache.james.core.Username;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.AuthHook;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * AUTH PLAIN and LOGIN against {@link Credentials}, only over TLS. James's AuthCmdHandler runs
 * AUTH even where it did not advertise it, so the TLS rule is enforced here: without TLS the
 * answer is 530 5.7.0 and no password is checked.
 *
 * <p>Password guessing is braked by {@link AuthThrottle}: after {@code intake_auth_max_failures}
 * failures on one connection the client gets {@code 421 4.7.0} and is disconnected, and an
 * address that keeps failing is locked out for a while (421 without a password check). Every
 * failure is logged with the client address and the user name tried.
 */
final class CredentialsAuthHook implements AuthHook {

    private static final Logger LOG = LoggerFactory.getLogger(CredentialsAuthHook.class);
    private static final ProtocolSession.AttachmentKey<Integer> FAILURES =
            ProtocolSession.AttachmentKey.of("relaybox.authFailures", Integer.class);

    private final Credentials credentials;
    private final AuthThrottle throttle;

    CredentialsAuthHook(Credentials credentials, AuthThrottle throttle) {
        this.credentials = credentials;
        this.throttle = throttle;
    }

    @Override
    public HookResult doAuth(SMTPSession session, Username username, String password) {
        if (!session.isTLSStarted()) {
            return HookResult.builder().hookReturnCode(HookReturnCode.deny())
                    .smtpReturnCode("530").smtpDescription("5.7.0 Must issue a STARTTLS command first").build();
        }
        String client = session.getRemoteAddress().getAddress().getHostAddress();
        if (throttle.locked(client)) {
            LOG.warn("AUTH refused from {}: locked out after repeated failures", client);
            return tooMany();
        }
        if (credentials.verify(username.asString(), password)) {
            throttle.succeeded(client);
            session.setUsername(username);
            return HookResult.builder().hookReturnCode(HookReturnCode.ok())
                    .smtpReturnCode("235").smtpDescription("2.7.0 Authentication successful").build();
        }
        int here = session.getAttachment(FAILURES, ProtocolSession.State.Connection).orElse(0) + 1;
        session.setAttachment(FAILURES, here, ProtocolSession.State.Connection);
        int fromAddress = throttle.failed(client);
        LOG.warn("AUTH failed from {} for user \"{}\" ({} on this connection, {} from this address)", client,
                username.asString().replaceAll("[^\\x21-\\x7e]", "?"), here, fromAddress);
        if (here >= throttle.maxFailures()) {
            return tooMany();
        }
        return HookResult.builder().hookReturnCode(HookReturnCode.deny())
                .smtpReturnCode("535").smtpDescription("5.7.8 Authentication credentials invalid").build();
    }

    private static HookResult tooMany() {
        return HookResult.builder()
                .hookReturnCode(HookReturnCode.disconnected(HookReturnCode.Action.DENYSOFT))
                .smtpReturnCode("421").smtpDescription("4.7.0 Too many failed authentication attempts, closing connection")
                .build();
    }

    @Override
    public HookResult doSasl(SMTPSession session, org.apache.james.protocols.api.OidcSASLConfiguration configuration,
                             String initialResponse) {
        return HookResult.DECLINED;
    }
}
