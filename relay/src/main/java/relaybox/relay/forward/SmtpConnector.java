package relaybox.relay.forward;

import io.netty.channel.Channel;
import io.netty.handler.codec.smtp.SmtpRequestEncoder;
import io.netty.handler.codec.smtp.SmtpResponseDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.HeloName;
import relaybox.relay.config.TlsMode;
import relaybox.relay.config.UpstreamConfig;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;

/**
 * Owns how sessions to one SMTP upstream are opened: the TLS context (TLS 1.2 or newer, the
 * system trust store or the upstream's {@code ca_file}, host name verified), the credentials,
 * the timeouts and the pipeline (Netty's TLS and SMTP codec over a {@link SocketWire}).
 * {@link #open()} returns a session that has passed greeting, EHLO, STARTTLS and AUTH
 * ({@link SessionOpening}) and is ready for mail ({@link SmtpSession}). It does not decide what
 * to send.
 */
public final class SmtpConnector implements Forwarder {

    static final int MAX_REPLY_LINE = 8192;

    final UpstreamConfig upstream;
    final ForwardConfig forward;
    final FailurePolicy policy;
    /** Which AUTH mechanism and secrets sessions use; reads the auth_file again when it changes. */
    final AuthSelection auth;
    final String heloName;
    private final SslContext ssl;
    /** The trust decision and what each handshake was shown; null without TLS. */
    final PresentedCertificates trust;

    public SmtpConnector(UpstreamConfig upstream, ForwardConfig forward) throws IOException {
        this.upstream = upstream;
        this.forward = forward;
        this.policy = new FailurePolicy(upstream.temporaryReplies().stream().map(ReplyRule::parse).toList());
        TokenSource tokens = upstream.oauth() == null ? null : new TokenSource(upstream, forward.commandTimeout(),
                java.time.Clock.systemUTC());
        this.auth = new AuthSelection(upstream, tokens, this::secretsStamp);
        this.heloName = forward.heloName().isEmpty() ? localName() : forward.heloName();
        if (!upstream.tls().encrypts()) {
            this.trust = null;
            this.ssl = null;
        } else {
            try {
                this.trust = new PresentedCertificates(upstream.caFile());
            } catch (java.security.GeneralSecurityException e) {
                throw new IOException("ca_file " + upstream.caFile() + ": " + e.getMessage(), e);
            }
            this.ssl = SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2").trustManager(trust).build();
        }
    }

    /**
     * A stamp of a secrets file (modification time, size, inode): equal stamps mean the file was
     * not changed. Null for no file; a string when it cannot be read (itself a change to notice).
     */
    static Object stamp(java.nio.file.Path file) {
        if (file == null) {
            return null;
        }
        try {
            var a = java.nio.file.Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
            return java.util.Arrays.asList(a.lastModifiedTime(), a.size(), a.fileKey());
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** The stamp of this upstream's auth_file now. */
    @Override
    public Object secretsStamp() {
        return stamp(upstream.authFile());
    }

    boolean hasCredentials() {
        return upstream.authFile() != null;
    }

    /** EHLO name when none is configured (tools and tests; the daemon resolves it in its config). */
    static String localName() {
        return HeloName.resolve("");
    }

    /** A TLS handler that verifies the upstream's certificate against {@code host}. */
    SslHandler tlsHandler(Channel ch) {
        SslHandler h = ssl.newHandler(ch.alloc(), upstream.host(), upstream.port());
        SSLEngine engine = h.engine();
        SSLParameters p = engine.getSSLParameters();
        // Without this the JDK checks the chain but not that it was issued for this host.
        p.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(p);
        h.setHandshakeTimeoutMillis(forward.connectTimeout().toMillis());
        return h;
    }

    /** Opens a session ready for mail, telling {@code trace} each step, or says why not. */
    @Override
    public UpstreamSession open(SessionTrace trace) throws SessionOpenException {
        String shown = upstream.host() + ":" + upstream.port();
        Conversation.Inbox inbox = new Conversation.Inbox();
        boolean implicit = upstream.tls() == TlsMode.TLS;
        SocketWire wire;
        try {
            wire = SocketWire.connect(upstream.host(), upstream.port(), forward.connectTimeout(),
                    forward.commandTimeout(), new ReplyLineBound(MAX_REPLY_LINE), new SmtpResponseDecoder(MAX_REPLY_LINE),
                    new SmtpRequestEncoder(), inbox);
        } catch (IOException e) {
            FailurePolicy.Decision d = policy.exception(Stage.CONNECT, e);
            trace.step("connect", false, shown + ": " + FailurePolicy.describe(e));
            throw new SessionOpenException(shown, d);
        }
        String ip = wire.remote().getAddress().getHostAddress();
        trace.step("connect", true, (ip.equals(upstream.host()) ? "" : upstream.host() + " resolves to " + ip + "; ")
                + "connected to " + ip + ":" + upstream.port());
        if (implicit) {
            wire.addTls(tlsHandler(wire.channel()));
        }
        Conversation talk = new Conversation(wire, inbox, upstream.host());
        try {
            return new SmtpSession(this, talk, new SessionOpening(this, talk, trace).open());
        } catch (SessionOpenException | RuntimeException e) {
            talk.close();
            throw e;
        }
    }

    static String secs(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
