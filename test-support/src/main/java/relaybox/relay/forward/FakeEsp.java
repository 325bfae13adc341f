package relaybox.relay.forward;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
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
 * replies are scripted with the rules above and the reply texts here ({@link #MS_CONCURRENCY} ...).
 */
public final class FakeEsp implements AutoCloseable {

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

    private record Rule(String prefix, String action, AtomicInteger times) { }

    /** A provider whose SMTP submission service the fake imitates. */
    public enum Dialect {
        /** Whatever the fields say; no provider limits. */
        GENERIC,
        /**
         * Microsoft 365 (smtp.office365.com): EHLO offers AUTH LOGIN XOAUTH2 and no PLAIN; a 4th
         * authenticated connection of one mailbox is answered {@link #MS_CONCURRENCY}.
         */
        MICROSOFT,
        /**
         * Google (smtp.gmail.com, smtp-relay.gmail.com): AUTH PLAIN XOAUTH2; a RCPT beyond the 100th
         * of a transaction is answered {@link #GOOGLE_TOO_MANY_RECIPIENTS}.
         */
        GOOGLE
    }

    /** Microsoft's answer to a 4th concurrent connection of one mailbox. */
    public static final String MS_CONCURRENCY = "432 4.3.2 Concurrent connections limit exceeded. Visit"
            + " https://aka.ms/concurrent_sending for more information. [Hostname=AM0PR01MB0001.eurprd01.prod.outlook.com]";
    /** Microsoft with SMTP AUTH switched off for the tenant or mailbox (script it at "AUTH"). */
    public static final String MS_AUTH_DISABLED = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication"
            + " is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.";
    /** Google's answer to a RCPT beyond the transaction's 100th. */
    public static final String GOOGLE_TOO_MANY_RECIPIENTS = "452 4.5.3 Your message has too many recipients."
            + " For more information regarding Google's sending limits, visit"
            + " https://support.google.com/mail/?p=TooManyRecipientsError";
    /** Google's temporary throttle (script it at "MAIL" or "RCPT"). */
    public static final String GOOGLE_PEAK = "450 4.2.1 Peak SMTP relay limit exceeded for customer."
            + " To learn more about SMTP relay sending limits please contact your administrator";
    /** Google's daily quota, answered with a 5xx (script it at "MAIL" or "RCPT"). */
    public static final String GOOGLE_DAILY = "550 5.4.5 Daily SMTP relay limit exceeded for user."
            + " For more information on SMTP relay sending limits please contact your administrator";

    /**
     * Microsoft's continuous-error throttle: {@code 550 5.2.25x} with {@code x} from 1 to 5
     * (script it at "MAIL"; retrying extends it).
     */
    public static String msSenderThrottled(int x) {
        if (x < 1 || x > 5) {
            throw new IllegalArgumentException("5.2.251 to 5.2.255: " + x);
        }
        return "550 5.2.25" + x + " Sender throttled due to continuous " + (x == 1 ? "invalid recipients errors"
                : "send errors") + ". Visit https://aka.ms/continuouserrorthrottling for more information.";
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
    private final java.util.concurrent.ConcurrentHashMap<String, AtomicInteger> authedPerUser =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** Final "." replies before which the client had already sent more (its next MAIL, pipelined). */
    public final AtomicInteger commandsBeforeEndReply = new AtomicInteger();
    /** Wait this long before answering a final "." (lets pipelined commands arrive first). */
    public volatile int endReplyDelayMillis;
    /** The most connections open at the same time. */
    public final AtomicInteger maxConcurrent = new AtomicInteger();
    private final AtomicInteger concurrent = new AtomicInteger();
    public final ConcurrentLinkedQueue<String> commands = new ConcurrentLinkedQueue<>();
    public final List<Received> received = new CopyOnWriteArrayList<>();

    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<Socket> open = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger queuedAs = new AtomicInteger();
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
        rules.add(new Rule(prefix.toUpperCase(Locale.ROOT), action, new AtomicInteger(times)));
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

    private String match(String line) {
        String up = line.toUpperCase(Locale.ROOT);
        for (Rule r : rules) {
            if (up.startsWith(r.prefix) && r.times.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0) {
                return r.action;
            }
        }
        return null;
    }

    /** Applies a rule's action. Returns true if the rule answered (or hung up). */
    private boolean act(String action, Conn c) throws IOException {
        if (action == null) {
            return false;
        }
        if (action.startsWith("replyclose ")) {
            c.send(action.substring(11));
            throw new IOException("closed after reply by rule");
        }
        if (action.startsWith("reply ")) {
            c.send(action.substring(6));
            return true;
        }
        if (action.startsWith("replyhold ")) {
            // A server that says goodbye (421) but closes the TCP connection only much later:
            // over TLS it sends close_notify at once (as Microsoft's front ends do), in clear it
            // just stops answering. It reads until the client closes, for at most 60 s.
            c.send(action.substring(10));
            if (c.socket instanceof javax.net.ssl.SSLSocket t) {
                t.shutdownOutput();
            }
            long end = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < end && c.readLine() != null) {
                // ignore whatever the client still sends
            }
            throw new IOException("held after reply by rule");
        }
        if (action.equals("hang")) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException ignored) {
                // test over
            }
            throw new IOException("hung");
        }
        if (action.equals("close")) {
            throw new IOException("closed by rule");
        }
        throw new IllegalArgumentException(action);
    }

    private final class Conn {
        Socket socket;
        InputStream in;
        OutputStream out;
        boolean tls;
        String authUser = "";
        /** The user whose connection count this connection holds, or null. */
        String counted;

        Conn(Socket s) throws IOException {
            setSocket(s);
        }

        void setSocket(Socket s) throws IOException {
            socket = s;
            in = new java.io.BufferedInputStream(s.getInputStream());
            out = s.getOutputStream();
        }

        void send(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        /** A line with its line end, or null at end of stream. */
        byte[] readLine() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                b.write(c);
                if (c == '\n') {
                    byte[] line = b.toByteArray();
                    if (refuseBareLf && (line.length < 2 || line[line.length - 2] != '\r')) {
                        throw new IOException("bare LF on the wire");
                    }
                    return line;
                }
            }
            return b.size() == 0 ? null : b.toByteArray();
        }
    }

    private void serve(Socket s) {
        Conn c = null;
        try {
            if (implicitTls) {
                s = wrap(s);
            }
            c = new Conn(s);
            if (!act(match("GREETING"), c)) {
                c.send("220 fake.esp.test ESMTP ready");
            }
            String from = null;
            String mailLine = "";
            List<String> to = new ArrayList<>();
            boolean authed = false;
            boolean tls = implicitTls;
            while (true) {
                byte[] raw = c.readLine();
                if (raw == null) {
                    return;
                }
                String line = new String(raw, StandardCharsets.UTF_8).replaceAll("\r?\n$", "");
                commands.add(line);
                String up = line.toUpperCase(Locale.ROOT);
                if (act(match(line), c)) {
                    if (up.startsWith("MAIL")) {
                        from = null;
                    }
                    continue;
                }
                if (up.startsWith("EHLO")) {
                    StringBuilder b = new StringBuilder("250-fake.esp.test\r\n");
                    if (pipelining) {
                        b.append("250-PIPELINING\r\n");
                    }
                    if (offerStartTls && !tls) {
                        b.append("250-STARTTLS\r\n");
                    }
                    if (authMechs != null) {
                        b.append("250-AUTH ").append(authMechs).append("\r\n");
                    }
                    if (limits != null) {
                        b.append("250-LIMITS ").append(limits).append("\r\n");
                    }
                    if (offerSmtpUtf8) {
                        b.append("250-SMTPUTF8\r\n");
                    }
                    b.append(size < 0 ? "250 8BITMIME" : "250-8BITMIME\r\n250 SIZE" + (size > 0 ? " " + size : ""));
                    c.send(b.toString());
                } else if (up.equals("STARTTLS")) {
                    c.send("220 2.0.0 go ahead");
                    c.setSocket(wrap(c.socket));
                    tls = true;
                } else if (up.startsWith("AUTH PLAIN ") && dialect == Dialect.MICROSOFT) {
                    authMechanismsUsed.add("PLAIN");
                    c.send("504 5.7.4 Unrecognized authentication type");
                } else if (up.startsWith("AUTH PLAIN ")) {
                    String[] p = new String(Base64.getDecoder().decode(line.substring(11).trim()), StandardCharsets.UTF_8)
                            .split("\0", -1);
                    authMechanismsUsed.add("PLAIN");
                    boolean ok = p.length == 3 && valid(p[1], p[2]);
                    authed = ok && admit(c, p[1]);
                    if (!ok || authed) {
                        c.send(authed ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication credentials invalid");
                    }
                    c.authUser = authed ? p[1] : "";
                } else if (up.startsWith("AUTH XOAUTH2 ") && authMechs != null && authMechs.contains("XOAUTH2")) {
                    xoauth2.incrementAndGet();
                    authMechanismsUsed.add("XOAUTH2");
                    String ir = new String(Base64.getDecoder().decode(line.substring(13).trim()), StandardCharsets.UTF_8);
                    String[] f = ir.split("\u0001", -1);
                    String u = f.length > 0 && f[0].startsWith("user=") ? f[0].substring(5) : "";
                    String tok = f.length > 1 && f[1].startsWith("auth=Bearer ") ? f[1].substring(12) : "";
                    java.util.function.BiPredicate<String, String> per = bearerFor;
                    authed = f.length == 4 && (per != null ? per.test(u, tok) : u.equals(user) && bearerValid.test(tok));
                    if (authed) {
                        authed = admit(c, u);
                        if (authed) {
                            c.send("235 2.7.0 Authentication successful");
                            c.authUser = u;
                        }
                    } else {
                        c.send("334 " + Base64.getEncoder().encodeToString(
                                "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://outlook.office.com/SMTP.Send\"}"
                                        .getBytes(StandardCharsets.UTF_8)));
                        byte[] answer = c.readLine();
                        challengeAnswers.add(answer == null ? "(closed)"
                                : new String(answer, StandardCharsets.UTF_8).replaceAll("\r?\n$", ""));
                        c.send("535 5.7.3 Authentication unsuccessful [SN4PR0201CA0068.namprd02.prod.outlook.com]");
                    }
                } else if (up.equals("AUTH LOGIN")) {
                    authMechanismsUsed.add("LOGIN");
                    c.send("334 VXNlcm5hbWU6");
                    String u = decode(c.readLine());
                    c.send("334 UGFzc3dvcmQ6");
                    String p = decode(c.readLine());
                    boolean ok = valid(u, p);
                    authed = ok && admit(c, u);
                    if (!ok || authed) {
                        c.send(authed ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication credentials invalid");
                    }
                    c.authUser = authed ? u : "";
                } else if (up.startsWith("MAIL FROM:")) {
                    if (requireTls && !tls) {
                        c.send("530 5.7.0 Must issue a STARTTLS command first");
                    } else if (authMechs != null && !authed) {
                        c.send("530 5.7.0 Authentication required");
                    } else {
                        from = line.substring(10).replaceAll("^<([^>]*)>.*$", "$1");
                        mailLine = line;
                        to.clear();
                        c.send("250 2.1.0 Ok");
                    }
                } else if (up.startsWith("RCPT TO:")) {
                    if (from == null) {
                        c.send("503 5.5.1 need MAIL");
                    } else if (rcptPerTransaction > 0 && to.size() >= rcptPerTransaction) {
                        tooManyRecipients.incrementAndGet();
                        c.send(GOOGLE_TOO_MANY_RECIPIENTS);
                    } else {
                        to.add(line.substring(8).replaceAll("^<([^>]*)>.*$", "$1"));
                        c.send("250 2.1.5 Ok");
                    }
                } else if (up.equals("DATA")) {
                    if (from == null || to.isEmpty()) {
                        c.send("554 5.5.1 No valid recipients");
                        continue;
                    }
                    c.send("354 End data with <CR><LF>.<CR><LF>");
                    ByteArrayOutputStream wire = new ByteArrayOutputStream();
                    byte[] data = readData(c, wire);
                    if (endReplyDelayMillis > 0) {
                        Thread.sleep(endReplyDelayMillis);
                    }
                    if (c.in.available() > 0) {
                        commandsBeforeEndReply.incrementAndGet();
                    }
                    if (!act(match("DATA_END"), c)) {
                        received.add(new Received(from, List.copyOf(to), data, tls, c.authUser, mailLine,
                                wire.toByteArray()));
                        c.send("250 2.0.0 Ok: queued as Q" + queuedAs.incrementAndGet());
                    }
                    from = null;
                    to.clear();
                } else if (up.equals("RSET")) {
                    from = null;
                    to.clear();
                    c.send("250 2.0.0 Ok");
                } else if (up.equals("NOOP")) {
                    c.send("250 2.0.0 Ok");
                } else if (up.equals("QUIT")) {
                    c.send("221 2.0.0 Bye");
                    return;
                } else {
                    c.send("500 5.5.2 Error: command not recognized");
                }
            }
        } catch (IOException e) {
            // The client went away, or a rule closed the connection.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (c != null && c.counted != null) {
                authedPerUser.get(c.counted).decrementAndGet();
            }
            concurrent.decrementAndGet();
            open.remove(s);
            closeQuietly(s);
        }
    }

    /** {@link #user} with {@link #password}, or one of {@link #logins}. */
    private boolean valid(String u, String p) {
        return (u.equals(user) && p.equals(password)) || p.equals(logins.get(u));
    }

    /**
     * Counts {@code u}'s authenticated connection, or, beyond {@link #connectionCap}, answers
     * {@link #MS_CONCURRENCY} and returns false. A connection counts once however often it
     * authenticates.
     */
    private boolean admit(Conn c, String u) throws IOException {
        if (c.counted != null) {
            return true;
        }
        AtomicInteger held = authedPerUser.computeIfAbsent(u, k -> new AtomicInteger());
        int now = held.incrementAndGet();
        if (connectionCap > 0 && now > connectionCap) {
            held.decrementAndGet();
            concurrencyRefusals.incrementAndGet();
            c.send(MS_CONCURRENCY);
            return false;
        }
        maxConcurrentPerUser.accumulateAndGet(now, Math::max);
        c.counted = u;
        return true;
    }

    private byte[] readData(Conn c, ByteArrayOutputStream wire) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        boolean first = true;
        while (true) {
            byte[] l = c.readLine();
            if (l == null) {
                throw new IOException("closed in DATA");
            }
            if (first) {
                first = false;
                act(match("BODY"), c);
            }
            if (l.length == 3 && l[0] == '.' && l[1] == '\r' && l[2] == '\n') {
                return data.toByteArray();
            }
            wire.write(l, 0, l.length);
            int off = l.length > 0 && l[0] == '.' ? 1 : 0;
            data.write(l, off, l.length - off);
        }
    }

    private Socket wrap(Socket plain) throws IOException {
        SSLSocket t = (SSLSocket) ssl.getSocketFactory().createSocket(plain, null, plain.getPort(), true);
        t.setUseClientMode(false);
        t.startHandshake();
        return t;
    }

    private static String decode(byte[] line) {
        if (line == null) {
            return "";
        }
        String s = new String(line, StandardCharsets.US_ASCII).trim();
        try {
            return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return "";
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already gone
        }
    }
}
