package relaybox.relay.forward;

import io.netty.channel.Channel;
import io.netty.handler.codec.smtp.SmtpRequestEncoder;
import io.netty.handler.codec.smtp.SmtpResponseDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;

/**
 * Owns how sessions to one SMTP upstream are opened: the TLS context (TLS 1.2 or newer, the
 * system trust store or the upstream's {@code ca_file}, host name verified), the credentials,
 * the timeouts and the pipeline (Netty's TLS and SMTP codec over a {@link SocketWire}). {@link #open()} returns a session that has passed
 * greeting, EHLO, STARTTLS and AUTH and is ready for mail. It does not decide what to send.
 */
public final class SmtpConnector {

    static final int MAX_REPLY_LINE = 8192;

    final UpstreamConfig upstream;
    final ForwardConfig forward;
    final FailurePolicy policy;
    final Credentials credentials;
    final String heloName;
    private final SslContext ssl;

    public SmtpConnector(UpstreamConfig upstream, ForwardConfig forward) throws IOException {
        this.upstream = upstream;
        this.forward = forward;
        this.policy = new FailurePolicy(upstream.temporaryReplies().stream().map(ReplyRule::parse).toList());
        this.credentials = upstream.authFile() == null ? null : Credentials.read(upstream.authFile());
        this.heloName = forward.heloName().isEmpty() ? localName() : forward.heloName();
        this.ssl = "none".equals(upstream.tls()) ? null : sslContext(upstream);
    }

    private static SslContext sslContext(UpstreamConfig u) throws SSLException {
        SslContextBuilder b = SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2");
        if (u.caFile() != null) {
            b.trustManager(u.caFile().toFile());
        }
        return b.build();
    }

    static String localName() {
        try {
            String n = InetAddress.getLocalHost().getHostName();
            return n.contains(".") ? n : "localhost";
        } catch (IOException e) {
            return "localhost";
        }
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

    /** Opens a session ready for mail, or says why not. */
    public UpstreamSession open() throws SessionOpenException {
        String shown = upstream.host() + ":" + upstream.port();
        SmtpSession.Inbox inbox = new SmtpSession.Inbox();
        boolean implicit = "tls".equals(upstream.tls());
        SocketWire wire;
        try {
            wire = SocketWire.connect(upstream.host(), upstream.port(), forward.connectTimeout(),
                    forward.commandTimeout(), new ReplyLineBound(MAX_REPLY_LINE), new SmtpResponseDecoder(MAX_REPLY_LINE),
                    new SmtpRequestEncoder(), inbox);
        } catch (IOException e) {
            throw new SessionOpenException(shown, policy.exception(Stage.CONNECT, e));
        }
        if (implicit) {
            wire.addTls(tlsHandler(wire.channel()));
        }
        SmtpSession s = new SmtpSession(this, wire, inbox);
        s.start(implicit);
        return s;
    }

    static String secs(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
