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
    /** Which AUTH mechanism and secrets sessions use; reads the auth_file again when it changes; null: no AUTH. */
    final AuthSelection auth;
    /** The same for each [[upstream.login]], in order: each with its own secrets (and token source). */
    private final java.util.List<AuthSelection> logins;
    /** Where the SIZE each EHLO advertises is recorded. */
    private final UpstreamSizes sizes;
    final String heloName;
    private final SslContext ssl;
    /** The trust decision and what each handshake was shown; null without TLS. */
    final PresentedCertificates trust;

    public SmtpConnector(UpstreamConfig upstream, ForwardConfig forward) throws IOException {
        this(upstream, forward, UpstreamSizes.NONE);
    }

    /** As above, recording the SIZE each session's EHLO advertises in {@code sizes}. */
    public SmtpConnector(UpstreamConfig upstream, ForwardConfig forward, UpstreamSizes sizes) throws IOException {
        this.upstream = upstream;
        this.forward = forward;
        this.sizes = sizes;
        this.policy = new FailurePolicy(upstream.temporaryReplies().stream().map(ReplyRule::parse).toList());
        this.auth = upstream.authFile() == null ? null : selection(upstream, forward);
        java.util.List<AuthSelection> ls = new java.util.ArrayList<>();
        for (relaybox.relay.config.SenderLogin l : upstream.logins()) {
            ls.add(selection(upstream.withAuthFile(l.authFile()), forward));
        }
        this.logins = java.util.List.copyOf(ls);
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

    /** The AUTH of {@code u}: its auth_file's secrets, and its own token source under XOAUTH2. */
    private static AuthSelection selection(UpstreamConfig u, ForwardConfig forward) throws IOException {
        TokenSource tokens = u.oauth() == null ? null : new TokenSource(u, forward.commandTimeout(),
                java.time.Clock.systemUTC());
        return new AuthSelection(u, tokens, () -> stamp(u.authFile()));
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

    /** The AUTH a session for {@code login} uses; null for none (no auth_file, default login). */
    private AuthSelection authFor(Login login) {
        return login.index() >= 0 ? logins.get(login.index()) : auth;
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
        return open(trace, Login.DEFAULT);
    }

    /** As above, authenticated as {@code login}: the session carries only mail of that login. */
    @Override
    public UpstreamSession open(SessionTrace trace, Login login) throws SessionOpenException {
        if (login.index() >= logins.size() || login.index() < Login.DEFAULT.index()) {
            throw new IllegalArgumentException("no " + login + " on upstream " + upstream.name());
        }
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
            Ehlo ehlo = new SessionOpening(this, talk, trace, authFor(login)).open();
            sizes.seen(upstream, ehlo.extensions().get("SIZE"));
            return new SmtpSession(this, talk, ehlo);
        } catch (SessionOpenException | RuntimeException e) {
            talk.close();
            throw e;
        }
    }

    static String secs(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
