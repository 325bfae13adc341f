package relaybox.relay.intake;

import org.apache.james.core.Username;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.core.esmtp.EhloExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.metrics.RelayMetrics;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * Owns AUTH (PLAIN and LOGIN, RFC 4954) at the intake: the exchange of lines, the guessing limits
 * ({@link AuthThrottle}) and handing the password check to {@link PasswordChecks}, off the event
 * loop. Replaces James's AuthCmdHandler, which asks for the user name and password before it
 * looks at TLS (a misconfigured client has sent its password in clear by then), checks the
 * password on the event loop, and throws on an empty user name.
 *
 * <h2>Replies</h2>
 * <ul>
 * <li>no TLS: {@code 530 5.7.0} at once, before any {@code 334}; nothing is read or checked;</li>
 * <li>TLS but no {@code intake_auth_credentials}: {@code 502 5.5.1};</li>
 * <li>a guessing limit holds: {@code 421 4.7.0} and the connection is closed, unchecked;</li>
 * <li>the password-check queue is full: {@code 454 4.7.0}, unchecked;</li>
 * <li>an empty user name, an undecodable or cancelled response: a 5xx, no check, no stack trace;</li>
 * <li>wrong: {@code 535 5.7.8}; on the {@code intake_auth_max_failures}th failure of the
 *     connection {@code 421 4.7.0} and close; right: {@code 235 2.7.0}.</li>
 * </ul>
 *
 * <p>Thread safety: shared by all sessions; each session's exchange state lives in its
 * {@link IntakeSession} and is touched only on that session's event loop.
 */
final class AuthExchange implements EhloExtension, org.apache.james.protocols.api.handler.ProtocolHandler {

    private static final Logger LOG = LoggerFactory.getLogger(AuthExchange.class);
    private static final String USERNAME = "VXNlcm5hbWU6";
    private static final String PASSWORD = "UGFzc3dvcmQ6";

    /** Where in an exchange a session is; kept in the session. */
    enum Step { NONE, PLAIN_RESPONSE, LOGIN_USER, LOGIN_PASSWORD, CHECKING }

    /** What the session's connection does for an exchange: write, and hold input during a check. */
    interface Reply {
        void write(Response r);

        /** Stops handing lines to the session until {@link #resume}. */
        void hold();

        /** On the session's loop: writes {@code r}, then hands on the lines held meanwhile. */
        void resume(Response r);

        /** Runs {@code task} on the session's event loop. */
        void onLoop(Runnable task);
    }

    private final Credentials credentials;
    private final AuthThrottle throttle;
    private final PasswordChecks checks;
    private final RelayMetrics metrics;

    AuthExchange(Credentials credentials, AuthThrottle throttle, PasswordChecks checks, RelayMetrics metrics) {
        this.credentials = credentials;
        this.throttle = throttle;
        this.checks = checks;
        this.metrics = metrics;
    }

    @Override
    public List<String> getImplementedEsmtpFeatures(SMTPSession session) {
        return credentials != null && session.isTLSStarted() ? List.of("AUTH LOGIN PLAIN", "AUTH=LOGIN PLAIN")
                : List.of();
    }

    /**
     * Takes {@code line} (a command line with its line end) if it belongs to AUTH: an AUTH
     * command, or the client's next response in an exchange. False: it is for James.
     */
    boolean onLine(IntakeSession session, String line, Reply reply) {
        String text = line.endsWith("\r\n") ? line.substring(0, line.length() - 2)
                : line.endsWith("\n") ? line.substring(0, line.length() - 1) : line;
        switch (session.authStep) {
            case NONE -> {
                if (!isAuthCommand(text)) {
                    return false;
                }
                command(session, text.substring(4).trim(), reply);
            }
            case PLAIN_RESPONSE -> {
                session.authStep = Step.NONE;
                if (!cancelled(text, reply)) {
                    plain(session, text, reply);
                }
            }
            case LOGIN_USER -> {
                session.authStep = Step.NONE;
                if (!cancelled(text, reply)) {
                    loginUser(session, text, reply);
                }
            }
            case LOGIN_PASSWORD -> {
                session.authStep = Step.NONE;
                if (!cancelled(text, reply)) {
                    String password = decode(text);
                    if (password == null) {
                        reply.write(cannotDecode());
                    } else {
                        check(session, session.authUser, password, reply);
                    }
                }
            }
            case CHECKING -> throw new IllegalStateException("a line reached AUTH while its check was running");
        }
        return true;
    }

    private static boolean isAuthCommand(String text) {
        return text.length() >= 4 && text.regionMatches(true, 0, "AUTH", 0, 4)
                && (text.length() == 4 || text.charAt(4) == ' ');
    }

    private void command(IntakeSession session, String argument, Reply reply) {
        if (!session.isTLSStarted()) {
            // Before any 334: a client that would send its password in clear never gets asked.
            reply.write(new SMTPResponse("530", "5.7.0 Must issue a STARTTLS command first"));
            return;
        }
        if (credentials == null) {
            reply.write(new SMTPResponse("502", "5.5.1 Error: authentication not enabled"));
            return;
        }
        if (session.getUsername() != null) {
            reply.write(new SMTPResponse("503", "5.5.1 Error: already authenticated"));
            return;
        }
        if (session.transaction() != null) {
            reply.write(new SMTPResponse("503", "5.5.1 Error: MAIL transaction in progress"));
            return;
        }
        String[] parts = argument.split(" ", 2);
        String mechanism = parts[0].toUpperCase(Locale.ROOT);
        String initial = parts.length > 1 ? parts[1].trim() : null;
        switch (mechanism) {
            case "PLAIN" -> {
                if (initial == null) {
                    session.authStep = Step.PLAIN_RESPONSE;
                    reply.write(new SMTPResponse("334", ""));
                } else {
                    plain(session, initial, reply);
                }
            }
            case "LOGIN" -> {
                if (initial == null) {
                    session.authStep = Step.LOGIN_USER;
                    reply.write(new SMTPResponse("334", USERNAME));
                } else {
                    loginUser(session, initial, reply);
                }
            }
            case "" -> reply.write(new SMTPResponse("501", "5.5.4 Syntax: AUTH mechanism"));
            default -> reply.write(new SMTPResponse("504", "5.5.4 Unrecognized authentication type"));
        }
    }

    private static boolean cancelled(String text, Reply reply) {
        if (text.equals("*")) {
            reply.write(new SMTPResponse("501", "5.7.0 Authentication aborted"));
            return true;
        }
        return false;
    }

    private void plain(IntakeSession session, String response, Reply reply) {
        String decoded = decode(response);
        if (decoded == null) {
            reply.write(cannotDecode());
            return;
        }
        // authzid NUL authcid NUL password (RFC 4616); the authorization identity is not used.
        String[] f = decoded.split("\0", -1);
        if (f.length != 3) {
            reply.write(cannotDecode());
            return;
        }
        check(session, f[1], f[2], reply);
    }

    private void loginUser(IntakeSession session, String response, Reply reply) {
        String user = decode(response);
        if (user == null) {
            reply.write(cannotDecode());
            return;
        }
        session.authUser = user;
        session.authStep = Step.LOGIN_PASSWORD;
        reply.write(new SMTPResponse("334", PASSWORD));
    }

    /** Checks the password off the loop; the session's input is held until the answer is written. */
    private void check(IntakeSession session, String user, String password, Reply reply) {
        java.net.InetAddress address = session.getRemoteAddress().getAddress();
        String client = address.getHostAddress();
        AuthThrottle.Limit limit = throttle.refuses(address);
        if (limit != null) {
            LOG.warn("AUTH refused from {}: {} locked out after repeated failures", client, limit.label());
            refusedMetric(limit.label());
            reply.write(tooMany());
            return;
        }
        if (user.isEmpty() || password.isEmpty()) {
            // Nothing to check; counted as a guess, so a loop of empty logins meets the limits too.
            reply.write(failed(session, address, user));
            return;
        }
        session.authStep = Step.CHECKING;
        reply.hold();
        checks.check(user, password).whenComplete((ok, error) -> reply.onLoop(() -> {
            session.authStep = Step.NONE;
            if (ok == null && error == null) {
                LOG.warn("AUTH from {} not checked: the password-check queue is full", client);
                refusedMetric("busy");
                reply.resume(new SMTPResponse("454", "4.7.0 Temporary authentication failure, try again later"));
                return;
            }
            if (metrics != null) {
                metrics.authChecked();
            }
            if (error != null) {
                LOG.error("password check failed for a client at {}", client, error);
                reply.resume(new SMTPResponse("454", "4.7.0 Temporary authentication failure, try again later"));
            } else if (ok) {
                throttle.succeeded(client);
                session.setUsername(Username.of(user));
                reply.resume(new SMTPResponse("235", "2.7.0 Authentication successful"));
            } else {
                reply.resume(failed(session, address, user));
            }
        }));
    }

    private Response failed(IntakeSession session, java.net.InetAddress address, String user) {
        int here = ++session.authFailures;
        int fromAddress = throttle.failed(address);
        LOG.warn("AUTH failed from {} for user \"{}\" ({} on this connection, {} from this address)",
                address.getHostAddress(), user.replaceAll("[^\\x21-\\x7e]", "?"), here, fromAddress);
        return here >= throttle.maxFailures() ? tooMany()
                : new SMTPResponse("535", "5.7.8 Authentication credentials invalid");
    }

    private void refusedMetric(String label) {
        if (metrics != null) {
            metrics.authRefused(label);
        }
    }

    private static Response tooMany() {
        SMTPResponse r = new SMTPResponse("421", "4.7.0 Too many failed authentication attempts, closing connection");
        r.setEndSession(true);
        return r;
    }

    private static Response cannotDecode() {
        return new SMTPResponse("501", "5.5.2 Cannot decode the authentication response");
    }

    /** Base64 to UTF-8 ("=" is an empty response, RFC 4954), or null when it is not valid base64. */
    private static String decode(String s) {
        if (s.trim().equals("=")) {
            return "";
        }
        try {
            return new String(Base64.getDecoder().decode(s.trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
