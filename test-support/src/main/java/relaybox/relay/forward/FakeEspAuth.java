package relaybox.relay.forward;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The AUTH dialogue of a {@link FakeEsp} (PLAIN, LOGIN, and XOAUTH2 with the providers' error
 * challenge), which credentials are valid, and the per-user cap on authenticated connections.
 */
final class FakeEspAuth {

    private final FakeEsp esp;
    private final ConcurrentHashMap<String, AtomicInteger> authedPerUser = new ConcurrentHashMap<>();

    FakeEspAuth(FakeEsp esp) {
        this.esp = esp;
    }

    /**
     * Answers {@code line} ({@code up} upper case) if it is an AUTH this server takes, and records
     * on {@code c} who authenticated. Returns false for any other line: the caller answers it.
     */
    boolean answer(String line, String up, FakeEspSession c) throws IOException {
        if (up.startsWith("AUTH PLAIN ") && esp.dialect == FakeEsp.Dialect.MICROSOFT) {
            esp.authMechanismsUsed.add("PLAIN");
            c.send("504 5.7.4 Unrecognized authentication type");
        } else if (up.startsWith("AUTH PLAIN ")) {
            String[] p = new String(Base64.getDecoder().decode(line.substring(11).trim()), StandardCharsets.UTF_8)
                    .split("\0", -1);
            esp.authMechanismsUsed.add("PLAIN");
            boolean ok = p.length == 3 && valid(p[1], p[2]);
            c.authed = ok && admit(c, p[1]);
            if (!ok || c.authed) {
                c.send(c.authed ? "235 2.7.0 Authentication successful"
                        : "535 5.7.8 Authentication credentials invalid");
            }
            c.authUser = c.authed ? p[1] : "";
        } else if (up.startsWith("AUTH XOAUTH2 ") && esp.authMechs != null && esp.authMechs.contains("XOAUTH2")) {
            xoauth2(line, c);
        } else if (up.equals("AUTH LOGIN")) {
            esp.authMechanismsUsed.add("LOGIN");
            c.send("334 VXNlcm5hbWU6");
            String u = decode(c.readLine());
            c.send("334 UGFzc3dvcmQ6");
            String p = decode(c.readLine());
            boolean ok = valid(u, p);
            c.authed = ok && admit(c, u);
            if (!ok || c.authed) {
                c.send(c.authed ? "235 2.7.0 Authentication successful"
                        : "535 5.7.8 Authentication credentials invalid");
            }
            c.authUser = c.authed ? u : "";
        } else {
            return false;
        }
        return true;
    }

    /**
     * A refused token gets the 334 error challenge, then (after the client's empty line) a 535,
     * as Microsoft and Google answer.
     */
    private void xoauth2(String line, FakeEspSession c) throws IOException {
        esp.xoauth2.incrementAndGet();
        esp.authMechanismsUsed.add("XOAUTH2");
        String ir = new String(Base64.getDecoder().decode(line.substring(13).trim()), StandardCharsets.UTF_8);
        String[] f = ir.split("\u0001", -1);
        String u = f.length > 0 && f[0].startsWith("user=") ? f[0].substring(5) : "";
        String tok = f.length > 1 && f[1].startsWith("auth=Bearer ") ? f[1].substring(12) : "";
        java.util.function.BiPredicate<String, String> per = esp.bearerFor;
        c.authed = f.length == 4 && (per != null ? per.test(u, tok) : u.equals(esp.user) && esp.bearerValid.test(tok));
        if (c.authed) {
            c.authed = admit(c, u);
            if (c.authed) {
                c.send("235 2.7.0 Authentication successful");
                c.authUser = u;
            }
        } else {
            c.send("334 " + Base64.getEncoder().encodeToString(
                    "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://outlook.office.com/SMTP.Send\"}"
                            .getBytes(StandardCharsets.UTF_8)));
            byte[] answer = c.readLine();
            esp.challengeAnswers.add(answer == null ? "(closed)"
                    : new String(answer, StandardCharsets.UTF_8).replaceAll("\r?\n$", ""));
            c.send("535 5.7.3 Authentication unsuccessful [SN4PR0201CA0068.namprd02.prod.outlook.com]");
        }
    }

    /** Gives back the connection count {@code c} holds, if any: its connection is over. */
    void release(FakeEspSession c) {
        if (c.counted != null) {
            authedPerUser.get(c.counted).decrementAndGet();
        }
    }

    /** {@link FakeEsp#user} with {@link FakeEsp#password}, or one of {@link FakeEsp#logins}. */
    private boolean valid(String u, String p) {
        return (u.equals(esp.user) && p.equals(esp.password)) || p.equals(esp.logins.get(u));
    }

    /**
     * Counts {@code u}'s authenticated connection, or, beyond {@link FakeEsp#connectionCap}, answers
     * {@link FakeEsp#MS_CONCURRENCY} and returns false. A connection counts once however often it
     * authenticates.
     */
    private boolean admit(FakeEspSession c, String u) throws IOException {
        if (c.counted != null) {
            return true;
        }
        AtomicInteger held = authedPerUser.computeIfAbsent(u, k -> new AtomicInteger());
        int now = held.incrementAndGet();
        if (esp.connectionCap > 0 && now > esp.connectionCap) {
            held.decrementAndGet();
            esp.concurrencyRefusals.incrementAndGet();
            c.send(FakeEsp.MS_CONCURRENCY);
            return false;
        }
        esp.maxConcurrentPerUser.accumulateAndGet(now, Math::max);
        c.counted = u;
        return true;
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
}
