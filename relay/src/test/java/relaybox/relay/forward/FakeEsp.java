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
 * An in-process fake ESP for forwarder tests: a small thread-per-connection SMTP server on a
 * loopback port, scriptable per command. It records connections, every command line and every
 * received message (envelope and un-dot-stuffed bytes).
 *
 * <p>Rules match a command by prefix ("RCPT TO:<b@", "MAIL", "DATA") or one of the pseudo
 * commands GREETING, BODY (after the first body line) and DATA_END (after the final "."), and
 * apply {@code times} times: reply with a given line ("reply TEXT"), reply then close
 * ("replyclose TEXT"), hang (never answer), or close the connection ("close"). Everything else gets a normal answer.
 */
public final class FakeEsp implements AutoCloseable {

    /** One received message. */
    public record Received(String from, List<String> to, byte[] data, boolean tls, String authUser, String mailLine) {
        public String text() {
            return new String(data, StandardCharsets.ISO_8859_1);
        }
    }

    private record Rule(String prefix, String action, AtomicInteger times) { }

    // Behaviour; may be changed while the server runs.
    public volatile boolean pipelining = true;
    public volatile boolean offerStartTls;
    public volatile boolean requireTls;
    public volatile boolean offerSmtpUtf8;
    public volatile String authMechs;       // e.g. "PLAIN LOGIN"; null: no AUTH offered
    public volatile String user = "user";
    public volatile String password = "secret";
    public volatile String limits;          // e.g. "MAILMAX=3 RCPTMAX=2"
    /**
     * XOAUTH2 (offer it in {@link #authMechs}; "LOGIN XOAUTH2" is Microsoft 365's offer): which
     * bearer tokens are valid for {@link #user}. A refused one gets the 334 error challenge, then
     * (after the client's empty line) a 535, as Microsoft and Google answer.
     */
    public volatile java.util.function.Predicate<String> bearerValid = t -> false;
    /** XOAUTH2 exchanges seen, and the responses to the error challenge (must be empty). */
    public final AtomicInteger xoauth2 = new AtomicInteger();
    public final List<String> challengeAnswers = new CopyOnWriteArrayList<>();
    public volatile SSLContext ssl;
    public volatile boolean implicitTls;

    // Records.
    public final AtomicInteger connections = new AtomicInteger();
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

    public FakeEsp rule(String prefix, String action, int times) {
        rules.add(new Rule(prefix.toUpperCase(Locale.ROOT), action, new AtomicInteger(times)));
        return this;
    }

    public FakeEsp reply(String prefix, String reply, int times) {
        return rule(prefix, "reply " + reply, times);
    }

    /** Forgets every rule: from now on every command gets the normal answer (the ESP recovered). */
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

        /** A line with its CRLF removed, or null at end of stream. */
        byte[] readLine() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                b.write(c);
                if (c == '\n') {
                    return b.toByteArray();
                }
            }
            return b.size() == 0 ? null : b.toByteArray();
        }
    }

    private void serve(Socket s) {
        try {
            if (implicitTls) {
                s = wrap(s);
            }
            Conn c = new Conn(s);
            if (!act(match("GREETING"), c)) {
                c.send("220 fake.esp.test ESMTP ready");
            }
            String from = null;
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
                    b.append("250-8BITMIME\r\n250 SIZE 52428800");
                    c.send(b.toString());
                } else if (up.equals("STARTTLS")) {
                    c.send("220 2.0.0 go ahead");
                    c.setSocket(wrap(c.socket));
                    tls = true;
                } else if (up.startsWith("AUTH PLAIN ")) {
                    String[] p = new String(Base64.getDecoder().decode(line.substring(11).trim()), StandardCharsets.UTF_8)
                            .split("\0", -1);
                    authed = p.length == 3 && p[1].equals(user) && p[2].equals(password);
                    c.send(authed ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication credentials invalid");
                    c.authUser = authed ? p[1] : "";
                } else if (up.startsWith("AUTH XOAUTH2 ") && authMechs != null && authMechs.contains("XOAUTH2")) {
                    xoauth2.incrementAndGet();
                    String ir = new String(Base64.getDecoder().decode(line.substring(13).trim()), StandardCharsets.UTF_8);
                    String[] f = ir.split("\u0001", -1);
                    String u = f.length > 0 && f[0].startsWith("user=") ? f[0].substring(5) : "";
                    String tok = f.length > 1 && f[1].startsWith("auth=Bearer ") ? f[1].substring(12) : "";
                    authed = f.length == 4 && u.equals(user) && bearerValid.test(tok);
                    if (authed) {
                        c.send("235 2.7.0 Authentication successful");
                        c.authUser = u;
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
                    c.send("334 VXNlcm5hbWU6");
                    String u = decode(c.readLine());
                    c.send("334 UGFzc3dvcmQ6");
                    String p = decode(c.readLine());
                    authed = u.equals(user) && p.equals(password);
                    c.send(authed ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication credentials invalid");
                    c.authUser = authed ? u : "";
                } else if (up.startsWith("MAIL FROM:")) {
                    if (requireTls && !tls) {
                        c.send("530 5.7.0 Must issue a STARTTLS command first");
                    } else if (authMechs != null && !authed) {
                        c.send("530 5.7.0 Authentication required");
                    } else {
                        from = line.substring(10).replaceAll("^<([^>]*)>.*$", "$1");
                        to.clear();
                        c.send("250 2.1.0 Ok");
                    }
                } else if (up.startsWith("RCPT TO:")) {
                    if (from == null) {
                        c.send("503 5.5.1 need MAIL");
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
                    byte[] data = readData(c);
                    String mailLine = commands.stream().filter(x -> x.toUpperCase(Locale.ROOT).startsWith("MAIL"))
                            .reduce((a, b) -> b).orElse("");
                    if (endReplyDelayMillis > 0) {
                        Thread.sleep(endReplyDelayMillis);
                    }
                    if (c.in.available() > 0) {
                        commandsBeforeEndReply.incrementAndGet();
                    }
                    if (!act(match("DATA_END"), c)) {
                        received.add(new Received(from, List.copyOf(to), data, tls, c.authUser, mailLine));
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
            concurrent.decrementAndGet();
            open.remove(s);
            closeQuietly(s);
        }
    }

    private byte[] readData(Conn c) throws IOException {
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
