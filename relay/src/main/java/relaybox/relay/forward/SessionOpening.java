package relaybox.relay.forward;

import io.netty.handler.codec.smtp.DefaultSmtpRequest;
import io.netty.handler.codec.smtp.SmtpRequests;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import relaybox.relay.config.TlsMode;

import java.util.TreeSet;

/**
 * Owns the opening of an upstream session, up to the point where it is ready for mail: implicit
 * TLS, greeting, EHLO, STARTTLS (then EHLO again) and AUTH. It returns what the upstream offers
 * ({@link Ehlo}) for the transactions ({@link SmtpSession}). Every failure is a
 * {@link SessionOpenException} classified by {@link FailurePolicy}; the caller closes.
 *
 * <p>Security rules kept here: required STARTTLS that is not offered sends nothing more; nothing
 * read before TLS is kept (RFC 3207); STARTTLS is never pipelined (Google answers
 * {@code 454 4.5.0}); AUTH is never sent in clear except to a loopback tunnel.
 */
final class SessionOpening {

    private final SmtpConnector conn;
    private final Conversation talk;
    private final SessionTrace trace;
    private final FailurePolicy policy;
    /** The login's AUTH; null: the session does not authenticate. */
    private final AuthSelection authSelection;

    SessionOpening(SmtpConnector conn, Conversation talk, SessionTrace trace, AuthSelection auth) {
        this.authSelection = auth;
        this.conn = conn;
        this.talk = talk;
        this.trace = trace;
        this.policy = conn.policy;
    }

    /** Runs the opening; returns what the upstream offers after TLS. */
    Ehlo open() throws SessionOpenException {
        Stage stage = Stage.CONNECT;
        // The step the upstream test names: a stage, or "certificate" during a TLS handshake.
        String step = "certificate";
        try {
            boolean encrypted = false;
            if (conn.upstream.tls() == TlsMode.TLS) {
                SslHandler h = talk.ch.pipeline().get(SslHandler.class);
                handshake(h);
                trace.step("certificate", true, certificate(h));
                encrypted = true;
            }
            stage = Stage.GREETING;
            step = "greeting";
            UpstreamReply greeting = talk.read(conn.forward.greetingTimeout());
            expect(stage, greeting);
            trace.step(step, true, greeting.toString());
            stage = Stage.EHLO;
            step = "ehlo";
            Ehlo ehlo = ehlo();
            if (conn.upstream.tls() == TlsMode.STARTTLS) {
                stage = Stage.STARTTLS;
                step = "starttls";
                if (!ehlo.offers("STARTTLS")) {
                    // Required TLS that is not offered: send nothing, not even AUTH or MAIL.
                    throw new SessionOpenException(talk.shown, policy.configProblem(stage,
                            "STARTTLS required but not offered"));
                }
                talk.ch.writeAndFlush(new DefaultSmtpRequest("STARTTLS"));
                UpstreamReply r = talk.read(conn.forward.commandTimeout());
                expect(stage, r);
                trace.step(step, true, r.toString());
                step = "certificate";
                SslHandler h = conn.tlsHandler(talk.ch);
                talk.wire.addTls(h);
                handshake(h);
                trace.step(step, true, certificate(h));
                // RFC 3207: forget everything learnt before TLS, including any reply an attacker
                // may have injected in clear after the 220.
                talk.forgetReplies();
                encrypted = true;
                stage = Stage.EHLO;
                step = "ehlo";
                ehlo = ehlo();
            }
            if (authSelection != null) {
                stage = Stage.AUTH;
                step = "auth";
                auth(ehlo, encrypted);
            }
            trace.step("limits", true, limits(ehlo));
            return ehlo;
        } catch (SessionOpenException e) {
            trace.step(step, false, e.decision().outcome().reply());
            throw e;
        } catch (SessionException e) {
            FailurePolicy.Decision d = policy.exception(stage, e);
            trace.step(step, false, d.outcome().reply());
            throw new SessionOpenException(talk.shown, d);
        }
    }

    private Ehlo ehlo() throws SessionException, SessionOpenException {
        talk.ch.writeAndFlush(SmtpRequests.ehlo(conn.heloName));
        UpstreamReply r = talk.read(conn.forward.commandTimeout());
        expect(Stage.EHLO, r);
        Ehlo e = Ehlo.parse(r, conn.upstream.messagesPerConnection(), conn.upstream.maxRecipients());
        trace.step("ehlo", true, "EHLO " + conn.heloName + ": " + r.code() + " " + (r.lines().isEmpty() ? ""
                : r.lines().get(0)) + "; offers " + (e.extensions().isEmpty() ? "nothing"
                : String.join(", ", new TreeSet<>(e.extensions().keySet()))));
        return e;
    }

    private void auth(Ehlo ehlo, boolean encrypted) throws SessionException, SessionOpenException {
        if (!encrypted && !relaybox.relay.config.UpstreamConfig.isLoopback(conn.upstream.host())) {
            // The config refuses this already; a second lock on the door that matters most.
            throw new SessionOpenException(talk.shown, policy.configProblem(Stage.AUTH,
                    "credentials are never sent without TLS"));
        }
        AuthMechanism m;
        try {
            m = authSelection.choose(ehlo.authMechanisms());
        } catch (AuthSelection.Refused e) {
            throw new SessionOpenException(talk.shown, policy.configProblem(Stage.AUTH, e.getMessage()));
        }
        UpstreamReply done;
        try {
            done = m.authenticate(line -> {
                talk.raw(line);
                return talk.read(conn.forward.commandTimeout());
            });
        } catch (AuthMechanism.Unavailable e) {
            if (e.configuration()) {
                throw new SessionOpenException(talk.shown, policy.configProblem(Stage.AUTH, e.getMessage()));
            }
            throw new SessionOpenException(talk.shown, policy.exception(Stage.AUTH, new SessionException(e.getMessage())));
        }
        if (!policy.reply(Stage.AUTH, done).ok()) {
            m.refused();
        }
        expect(Stage.AUTH, done);
        trace.step("auth", true, m.name() + " as " + m.identity() + ": " + done);
    }

    /** What the session learnt that bounds sending: SIZE, LIMITS, messages per connection. */
    private static String limits(Ehlo e) {
        String size = e.extensions().get("SIZE");
        return "SIZE " + (size == null || size.isBlank() ? "not announced" : size)
                + (e.offers("LIMITS") ? ", LIMITS " + e.extensions().get("LIMITS") : "")
                + ", up to " + e.maxTransactions() + " messages per connection"
                + (e.rcptMax() > 0 ? ", " + e.rcptMax() + " recipients per message" : "");
    }

    private String certificate(SslHandler h) {
        java.security.cert.X509Certificate[] chain = conn.trust.presentedTo(h.engine());
        return h.engine().getSession().getProtocol() + ", " + conn.trust.describe(chain, conn.upstream.host());
    }

    private void handshake(SslHandler h) throws SessionException {
        Future<?> f = h.handshakeFuture();
        long deadline = System.nanoTime() + conn.forward.connectTimeout().toNanos();
        while (!f.isDone()) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !talk.wire.readSome(left)) {
                throw new SessionException("TLS handshake timeout after " + SmtpConnector.secs(conn.forward.connectTimeout()));
            }
            if (!f.isDone() && !talk.ch.isActive()) {
                throw new SessionException("TLS handshake failed: connection closed by upstream");
            }
        }
        if (!f.isSuccess()) {
            java.security.cert.X509Certificate[] chain = conn.trust.presentedTo(h.engine());
            if (chain != null) {
                // Refused certificate: say it in the operator's words, not the JDK's.
                throw new SessionException(conn.trust.explain(conn.upstream.host(), chain, f.cause()), f.cause());
            }
            throw new SessionException("TLS handshake failed: " + FailurePolicy.describe(f.cause()), f.cause());
        }
    }

    private void expect(Stage stage, UpstreamReply r) throws SessionOpenException {
        FailurePolicy.Decision d = policy.reply(stage, r);
        if (!d.ok()) {
            throw new SessionOpenException(talk.shown, d);
        }
    }
}
