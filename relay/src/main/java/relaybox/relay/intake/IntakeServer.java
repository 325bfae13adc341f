package relaybox.relay.intake;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.apache.james.protocols.api.handler.ProtocolHandler;
import org.apache.james.protocols.netty.Encryption;
import org.apache.james.protocols.netty.HandlerConstants;
import org.apache.james.protocols.smtp.SMTPConfigurationImpl;
import org.apache.james.protocols.smtp.SMTPProtocolHandlerChain;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailEvents;
import relaybox.relay.metrics.JamesMetricFactory;
import relaybox.relay.metrics.RelayMetrics;

import javax.net.ssl.SSLContext;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The intake's wiring: James Protocols' SMTP handler chain with relaybox's handlers in place of
 * the James defaults that cannot be used, on a Netty pipeline built here instead of by James's
 * NettyServer. Behaviour lives in the handlers; this class only assembles and stops them.
 *
 * <h2>Why not James's NettyServer</h2>
 * NettyServer (3.8.1) runs the session (and so every hook) on the I/O thread, frames lines with
 * a framer that drops long lines and splits on bare LF, and creates a {@code DefaultEventLoopGroup(16)}
 * of non-daemon threads for every bind that {@code unbind()} never shuts down. Here the whole
 * pipeline (connection limits, timeouts, {@link IntakeFramer}, the session in
 * {@link IntakeCoreHandler}) runs on one NIO group of {@code intake_worker_threads} event loops
 * (one per core by default), and connections are spread over them in turn. No session waits on
 * its loop: the final dot returns a stage that the queue completes after its group fsync, and
 * the reply is written from the loop then. (Measured on 2 cores, 10 sessions: 2 loops 2,900
 * msg/s, 128 loops that each blocked for the fsync 2,550; a separate worker group cost two thread
 * wake-ups per command.)
 *
 * <h2>The handler chain</h2>
 * James's defaults with relaybox's handlers in place of those that cannot be used: see
 * {@link IntakeChain}. {@link SmtpSettings} is James's view of the configuration.
 *
 * <h2>Stopping</h2>
 * {@link #stop()} closes the listeners first, then waits up to {@code intake_drain_timeout} for
 * open transactions to end (new ones get 421), then closes every connection and shuts down both
 * thread groups and waits for their threads to end: nothing is left running.
 */
public final class IntakeServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IntakeServer.class);

    private final IntakeConfig config;
    private final Intake intake;
    private final SMTPProtocolHandlerChain chain;
    private final Encryption startTls;
    private final SessionGuard guard;
    private final AuthExchange auth;
    private final PasswordChecks passwordChecks;
    private EventLoopGroup io;
    private final List<Channel> listeners = new ArrayList<>();
    private final List<Channel> sessions = java.util.Collections.synchronizedList(new ArrayList<>());

    public IntakeServer(IntakeConfig config, Queue queue, MessageSigner signer, MailEvents mailLog) throws Exception {
        this(config, queue, signer, mailLog, Clock.systemDefaultZone());
    }

    public IntakeServer(IntakeConfig config, Queue queue, MessageSigner signer, MailEvents mailLog, Clock clock)
            throws Exception {
        this(config, queue, signer, mailLog, clock, null);
    }

    /** As above, reporting intake latency, DKIM failures and James's command timings to {@code metrics}. */
    public IntakeServer(IntakeConfig config, Queue queue, MessageSigner signer, MailEvents mailLog, Clock clock,
                        RelayMetrics metrics) throws Exception {
        this.config = config;
        this.intake = new Intake(config, queue, signer, mailLog, new RelayPolicy(config.networks()), clock, metrics);
        SSLContext ssl = config.tlsConfigured() ? PemTls.context(config.tlsCert(), config.tlsKey()) : null;
        this.startTls = ssl == null ? null : Encryption.createStartTls(ssl);
        Credentials credentials = config.authCredentials() == null ? null : Credentials.load(config.authCredentials());
        this.passwordChecks = credentials == null ? null
                : new PasswordChecks(credentials, config.limits().authThreads());
        this.auth = new AuthExchange(credentials, new AuthThrottle(config.authMaxFailures(),
                config.limits().authNetworkFailures(), config.limits().authGlobalFailures(), Clock.systemUTC()),
                passwordChecks, metrics);
        this.chain = IntakeChain.build(config, auth,
                metrics == null ? JamesMetricFactory.noop() : new JamesMetricFactory(metrics));
        this.guard = new SessionGuard(config.maxConnections(), config.maxConnectionsPerClient(), config.hostname(),
                intake.policy);
    }

    /**
     * Local names and bare line feeds (local_domain, [aliases], intake_bare_newline). Call before
     * {@link #start()}; without it names pass unchanged and a bare LF is refused.
     */
    public IntakeServer localMail(relaybox.relay.local.LocalNames names,
                                  relaybox.relay.config.LocalMailConfig.BareNewline bareNewline) {
        intake.localNames = names;
        intake.bareNewline = bareNewline;
        return this;
    }

    /**
     * What the upstreams take (their last advertised SIZE) and the From rewrite per sender. Call
     * before {@link #start()}; without it only intake_max_message_size limits and From is kept.
     */
    public IntakeServer upstreams(UpstreamFacts facts) {
        intake.upstreams = facts;
        return this;
    }

    /** The handlers in the chain, for the wiring test. */
    List<ProtocolHandler> handlers() {
        List<ProtocolHandler> out = new ArrayList<>();
        chain.forEach(out::add);
        return out;
    }

    /** Binds every listener; fails (and releases what was bound) if one cannot be bound. */
    public synchronized void start() throws InterruptedException {
        if (io != null) {
            throw new IllegalStateException("intake already started");
        }
        // Below the forwarder sessions: on a contended CPU, a delivery whose 250 has arrived must
        // get a core to journal it (a kill before that sends it twice), while a client waiting
        // for its own 250 only waits longer. Takes effect with -XX:ThreadPriorityPolicy=1
        // (packaged, with -XX:JavaPriority1_To_OSPriority=10): nice 10, which needs no
        // privilege (README "Deliveries before intake").
        io = new NioEventLoopGroup(config.workerThreads(),
                new DefaultThreadFactory("intake-io", true, Thread.MIN_PRIORITY));
        SMTPConfigurationImpl smtp = new SmtpSettings(config, credentialsOffered(), intake.policy);
        IntakeSession.Protocol protocol = new IntakeSession.Protocol(chain, smtp, intake);
        ServerBootstrap b = new ServerBootstrap()
                .group(io)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 250)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        sessions.add(ch);
                        ch.closeFuture().addListener(f -> sessions.remove(ch));
                        ch.pipeline()
                                .addLast("guard", guard)
                                .addLast(HandlerConstants.FRAMER, new IntakeFramer(startTls != null))
                                // After the framer: deadlines are per command line and per message.
                                .addLast(HandlerConstants.TIMEOUT_HANDLER, new SessionTimeouts(config, guard))
                                .addLast(HandlerConstants.CORE_HANDLER, new IntakeCoreHandler(protocol, startTls, auth));
                    }
                });
        try {
            for (InetSocketAddress a : config.listen()) {
                InetSocketAddress resolved = a.isUnresolved() ? new InetSocketAddress(a.getHostString(), a.getPort()) : a;
                Channel ch = b.bind(resolved).sync().channel();
                listeners.add(ch);
                LOG.info("intake listening on {}", ch.localAddress());
            }
        } catch (RuntimeException | InterruptedException e) {
            stopNow();
            throw e;
        }
    }

    private boolean credentialsOffered() {
        return config.authCredentials() != null;
    }

    /** The addresses actually bound (with the real port when 0 was configured). */
    public synchronized List<InetSocketAddress> boundAddresses() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (Channel c : listeners) {
            out.add((InetSocketAddress) c.localAddress());
        }
        return out;
    }

    /** Open transactions (between MAIL and the end of the message). */
    public int openTransactions() {
        return intake.openTransactions.get();
    }

    /** Bytes of intake_header_memory held by sessions now. */
    long headerMemoryUsed() {
        return intake.headerMemory.used();
    }

    /** Open client connections. */
    public int openConnections() {
        return guard.open();
    }

    /**
     * Stops accepting, lets open transactions finish for up to {@code intake_drain_timeout},
     * closes every connection and ends every intake thread. Idempotent.
     */
    public void stop() {
        Duration drain = config.drainTimeout();
        synchronized (this) {
            if (io == null) {
                return;
            }
            intake.draining = true;
            for (Channel c : listeners) {
                c.close().syncUninterruptibly();
            }
            listeners.clear();
        }
        long deadline = System.nanoTime() + drain.toNanos();
        while (intake.openTransactions.get() > 0 && System.nanoTime() < deadline) {
            // Polled: transactions end on the event loops, and this runs once, at shutdown.
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (intake.openTransactions.get() > 0) {
            LOG.warn("stopping with {} transaction(s) still open after {}s; their clients must retry",
                    intake.openTransactions.get(), drain.toSeconds());
        }
        stopNow();
    }

    private synchronized void stopNow() {
        if (io == null) {
            return;
        }
        for (Channel c : listeners) {
            c.close();
        }
        listeners.clear();
        byte[] bye = ("421 4.3.2 " + config.hostname() + " Service shutting down, closing connection\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        for (Channel c : List.copyOf(sessions)) {
            // RFC 5321 4.1.4 lets a server that must shut down say 421 at any time; the client
            // then knows to come back rather than seeing a reset.
            c.writeAndFlush(Unpooled.wrappedBuffer(bye)).addListener(ChannelFutureListener.CLOSE);
        }
        for (Channel c : List.copyOf(sessions)) {
            c.closeFuture().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        io.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        io = null;
        if (passwordChecks != null) {
            passwordChecks.close();
        }
        LOG.info("intake stopped");
    }

    @Override
    public void close() {
        stop();
    }
}
