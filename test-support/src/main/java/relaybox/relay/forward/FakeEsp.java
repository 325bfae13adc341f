package relaybox.relay.forward;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one scriptable fake SMTP server of every module's tests (the forwarder's upstream, sendmail's
 * intake): a small thread-per-connection SMTP server on a loopback port, scriptable per command.
 * It records connections, every command line and every received message (envelope, the MAIL line,
 * the un-dot-stuffed bytes and the bytes exactly as they crossed the wire).
 *
 * <p>Rules match a command by prefix ("RCPT TO:<b@", "MAIL", "DATA") or one of the pseudo
 * commands GREETING, BODY (after the first body line) and DATA_END (after the final "."), and
 * apply {@code times} times: reply with a given line ("reply TEXT"), reply then close
 * ("replyclose TEXT"), hang (never answer), or close the connection ("close"). Everything else gets a normal answer.
 * A rule that answers RCPT refuses that recipient; one that answers DATA_END refuses the message
 * (it is not recorded).
 *
 * <p>{@link #dialect} makes it answer as a provider does ({@link Dialect}): Microsoft 365's AUTH
 * offer and 3-connection cap, Google's 100 recipients per transaction; the provider's other
 * replies are scripted with the rules above and the reply texts of {@link FakeEspProviders}
 * ({@link #MS_CONCURRENCY} ...).
 *
 * <p>This class owns the settings, the records and the listening socket; one connection's
 * dialogue is {@link FakeEspSession}, AUTH {@link FakeEspAuth}, the rules {@link FakeEspRules}.
 */
public final class FakeEsp implements AutoCloseable, FakeEspProviders {

    /**
     * One received message: {@code data} without dot-stuffing, {@code wire} as sent (still
     * dot-stuffed, CRLF line ends, without the final "."); {@code mailLine} is this session's MAIL command.
     */
    public record Received(String from, List<String> to, byte[] data, boolean tls, String authUser, String mailLine,
                           byte[] wire) {
        public String text() {
            return new String(data, StandardCharsets.ISO_8859_1);
        }

        public String wireText() {
            return new String(wire, StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * Microsoft's continuous-error throttle: {@code 550 5.2.25x} with {@code x} from 1 to 5
     * (script it at "MAIL"; retrying extends it).
     */
    public static String msSenderThrottled(int x) {
        return FakeEspProviders.msSenderThrottled(x);
    }

    // Behaviour; may be changed while the server runs.
    public volatile Dialect dialect = Dialect.GENERIC;
    /** Authenticated connections one user may hold at once; 0: no cap. */
    public volatile int connectionCap;
    /** Recipients one transaction may have; 0: no limit. */
    public volatile int rcptPerTransaction;
    public volatile boolean pipelining = true;
    public volatile boolean offerStartTls;
    public volatile boolean requireTls;
    public volatile boolean offerSmtpUtf8;
    public volatile String authMechs;       // e.g. "PLAIN LOGIN"; null: no AUTH offered
    public volatile String user = "user";
    public volatile String password = "secret";
    public volatile String limits;          // e.g. "MAILMAX=3 RCPTMAX=2"
    /** More valid logins besides {@link #user}: user name to password (per-sender credentials). */
    public final java.util.Map<String, String> logins = new java.util.concurrent.ConcurrentHashMap<>();
    /** What EHLO advertises as SIZE; 0 advertises SIZE with no number, negative none at all. */
    public volatile long size = 52428800;
    /**
     * XOAUTH2 (offer it in {@link #authMechs}; "LOGIN XOAUTH2" is Microsoft 365's offer): which
     * bearer tokens are valid for {@link #user}. A refused one gets the 334 error challenge, then
     * (after the client's empty line) a 535, as Microsoft and Google answer.
     */
    public volatile java.util.function.Predicate<String> bearerValid = t -> false;
    /** When set, decides XOAUTH2 instead: whether the bearer token (second) is valid for the user (first). */
    public volatile java.util.function.BiPredicate<String, String> bearerFor;
    /** XOAUTH2 exchanges seen, and the responses to the error challenge (must be empty). */
    public final AtomicInteger xoauth2 = new AtomicInteger();
    public final List<String> challengeAnswers = new CopyOnWriteArrayList<>();
    public volatile SSLContext ssl;
    public volatile boolean implicitTls;
    /** Drop the connection at a line ending in a bare LF, as a strict intake does (sendmail's tests). */
    public volatile boolean refuseBareLf;

    // Records.
    public final AtomicInteger connections = new AtomicInteger();
    /** AUTHs refused because the user already held {@link #connectionCap} connections. */
    public final AtomicInteger concurrencyRefusals = new AtomicInteger();
    /** RCPTs refused because the transaction already had {@link #rcptPerTransaction} recipients. */
    public final AtomicInteger tooManyRecipients = new AtomicInteger();
    /** The most authenticated connections any one user held at once. */
    public final AtomicInteger maxConcurrentPerUser = new AtomicInteger();
    /** AUTH mechanisms used, in order (first word after AUTH, upper case). */
    public final List<String> authMechanismsUsed = new CopyOnWriteArrayList<>();
    /** Final "." replies before which the client had already sent more (its next MAIL, pipelined). */
    public final AtomicInteger commandsBeforeEndReply = new AtomicInteger();
    /** Wait this long before answering a final "." (lets pipelined commands arrive first). */
    public volatile int endReplyDelayMillis;
    /** The most connections open at the same time. */
    public final AtomicInteger maxConcurrent = new AtomicInteger();
    private final AtomicInteger concurrent = new AtomicInteger();
    public final ConcurrentLinkedQueue<String> commands = new ConcurrentLinkedQueue<>();
    public final List<Received> received = new CopyOnWriteArrayList<>();

    final FakeEspRules rules = new FakeEspRules();
    final FakeEspAuth auth = new FakeEspAuth(this);
    final AtomicInteger queuedAs = new AtomicInteger();
    private final List<Socket> open = Collections.synchronizedList(new ArrayList<>());
    private volatile ServerSocket server;
    private volatile int port;

    /** Starts on a free loopback port. */
    public FakeEsp start() throws IOException {
        return start(0);
    }

    /** Starts (again) on {@code port}; 0 for a free one. */
    public FakeEsp start(int wanted) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), wanted));
        port = s.getLocalPort();
        server = s;
        Thread t = new Thread(() -> accept(s), "fake-esp-" + port);
        t.setDaemon(true);
        t.start();
        return this;
    }

    public int port() {
        return port;
    }

    /** "127.0.0.1:port", as sendmail's --smtp and intake_listen take it. */
    public String address() {
        return InetAddress.getLoopbackAddress().getHostAddress() + ":" + port;
    }

    /** Stops listening and drops every connection: the upstream is down. */
    public void stop() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        synchronized (open) {
            open.forEach(FakeEsp::closeQuietly);
            open.clear();
        }
    }

    /** Drops every open connection but keeps listening, as an ESP that ends idle sessions does. */
    public void dropConnections() {
        synchronized (open) {
            open.forEach(FakeEsp::closeQuietly);
            open.clear();
        }
    }

    @Override
    public void close() {
        stop();
    }

    /**
     * Answers as {@code d}'s servers do: sets the AUTH offer, the connection cap and the
     * recipients per transaction to the provider's. Call before {@link #start}.
     */
    public FakeEsp dialect(Dialect d) {
        dialect = d;
        switch (d) {
            case MICROSOFT -> {
                authMechs = "LOGIN XOAUTH2";
                connectionCap = 3;
                rcptPerTransaction = 0;
            }
            case GOOGLE -> {
                authMechs = "PLAIN XOAUTH2";
                connectionCap = 0;
                rcptPerTransaction = 100;
            }
            default -> {
                connectionCap = 0;
                rcptPerTransaction = 0;
            }
        }
        return this;
    }

    public FakeEsp rule(String prefix, String action, int times) {
        rules.add(prefix, action, times);
        return this;
    }

    public FakeEsp reply(String prefix, String reply, int times) {
        return rule(prefix, "reply " + reply, times);
    }

    /** Answers every command starting with {@code prefix} with {@code reply} until {@link #clearRules}. */
    public FakeEsp replyAlways(String prefix, String reply) {
        return reply(prefix, reply, Integer.MAX_VALUE);
    }

    /** Forgets every rule: from now on every command gets its normal answer. */
    public FakeEsp clearRules() {
        rules.clear();
        return this;
    }

    public long count(String commandPrefix) {
        return commands.stream().filter(c -> c.toUpperCase(Locale.ROOT).startsWith(commandPrefix)).count();
    }

    private void accept(ServerSocket s) {
        while (!s.isClosed()) {
            try {
                Socket c = s.accept();
                c.setTcpNoDelay(true);
                connections.incrementAndGet();
                int now = concurrent.incrementAndGet();
                maxConcurrent.accumulateAndGet(now, Math::max);
                open.add(c);
                Thread t = new Thread(() -> serve(c), "fake-esp-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        FakeEspSession c = null;
        try {
            if (implicitTls) {
                s = wrap(s);
            }
            c = new FakeEspSession(this, s);
            c.converse();
        } catch (IOException e) {
            // The client went away, or a rule closed the connection.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (c != null) {
                auth.release(c);
            }
            concurrent.decrementAndGet();
            open.remove(s);
            closeQuietly(s);
        }
    }

    Socket wrap(Socket plain) throws IOException {
        SSLSocket t = (SSLSocket) ssl.getSocketFactory().createSocket(plain, null, plain.getPort(), true);
        t.setUseClientMode(false);
        t.startHandshake();
        return t;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already gone
        }
    }
}
