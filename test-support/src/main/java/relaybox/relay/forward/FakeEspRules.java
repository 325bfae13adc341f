package relaybox.relay.forward;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The scripted answers of a {@link FakeEsp}: which command prefix (or pseudo command GREETING,
 * BODY, DATA_END) gets which action how many more times, and carrying an action out on a connection.
 */
final class FakeEspRules {

    private record Rule(String prefix, String action, AtomicInteger times) { }

    private final List<Rule> rules = new CopyOnWriteArrayList<>();

    void add(String prefix, String action, int times) {
        rules.add(new Rule(prefix.toUpperCase(Locale.ROOT), action, new AtomicInteger(times)));
    }

    void clear() {
        rules.clear();
    }

    /** Applies the first rule still live for {@code line}. Returns true if it answered (or hung up). */
    boolean apply(String line, FakeEspSession c) throws IOException {
        return act(match(line), c);
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
    private boolean act(String action, FakeEspSession c) throws IOException {
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
}
