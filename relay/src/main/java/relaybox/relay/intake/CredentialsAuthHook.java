package relaybox.relay.intake;

import org.apache.james.core.Username;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.AuthHook;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;

/**
 * AUTH PLAIN and LOGIN against {@link Credentials}, only over TLS. James's AuthCmdHandler runs
 * AUTH even where it did not advertise it, so the TLS rule is enforced here: without TLS the
 * answer is 530 5.7.0 and no password is checked.
 */
final class CredentialsAuthHook implements AuthHook {

    private final Credentials credentials;

    CredentialsAuthHook(Credentials credentials) {
        this.credentials = credentials;
    }

    @Override
    public HookResult doAuth(SMTPSession session, Username username, String password) {
        if (!session.isTLSStarted()) {
            return HookResult.builder().hookReturnCode(HookReturnCode.deny())
                    .smtpReturnCode("530").smtpDescription("5.7.0 Must issue a STARTTLS command first").build();
        }
        if (credentials.verify(username.asString(), password)) {
            session.setUsername(username);
            return HookResult.builder().hookReturnCode(HookReturnCode.ok())
                    .smtpReturnCode("235").smtpDescription("2.7.0 Authentication successful").build();
        }
        return HookResult.builder().hookReturnCode(HookReturnCode.deny())
                .smtpReturnCode("535").smtpDescription("5.7.8 Authentication credentials invalid").build();
    }

    @Override
    public HookResult doSasl(SMTPSession session, org.apache.james.protocols.api.OidcSASLConfiguration configuration,
                             String initialResponse) {
        return HookResult.DECLINED;
    }
}
