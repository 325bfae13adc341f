package relaybox.relay.forward;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What an EHLO reply offers: the extensions (keyword in upper case to its parameters) and the
 * LIMITS (RFC 9422) MAILMAX, capped by our own messages per connection, and RCPTMAX, capped by
 * our own recipients per transaction ({@code max_recipients}; 0 for neither: no limit).
 * Pure, so the fuzzer can feed it any reply.
 */
record Ehlo(Map<String, String> extensions, int maxTransactions, int rcptMax) {

    static final Ehlo NONE = new Ehlo(Map.of(), 1, 0);

    static Ehlo parse(UpstreamReply r, int messagesPerConnection) {
        return parse(r, messagesPerConnection, 0);
    }

    /** As above, with the upstream's configured recipients per transaction (0: no limit of ours). */
    static Ehlo parse(UpstreamReply r, int messagesPerConnection, int maxRecipients) {
        Map<String, String> ext = new HashMap<>();
        // A reply of just "250 " has no text line at all (found by UpstreamReplyFuzzTest: the
        // IllegalArgumentException escaped open() and left the leased entry in sending).
        List<String> lines = r.lines();
        for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
            String[] kv = line.split(" ", 2);
            ext.put(kv[0].toUpperCase(Locale.ROOT), kv.length > 1 ? kv[1] : "");
        }
        int maxTransactions = messagesPerConnection;
        int rcptMax = 0;
        String limits = ext.get("LIMITS");
        if (limits != null) {
            for (String p : limits.split(" ")) {
                String[] kv = p.split("=", 2);
                if (kv.length == 2 && kv[1].matches("\\d{1,9}")) {
                    int v = Integer.parseInt(kv[1]);
                    if (kv[0].equalsIgnoreCase("MAILMAX") && v > 0) {
                        maxTransactions = Math.min(messagesPerConnection, v);
                    } else if (kv[0].equalsIgnoreCase("RCPTMAX") && v > 0) {
                        rcptMax = v;
                    }
                }
            }
        }
        if (maxRecipients > 0) {
            // The provider's documented limit (a preset's, or the operator's): sending more gets
            // the surplus refused (Google: 452 4.5.3) and retried later, one attempt per batch.
            rcptMax = rcptMax == 0 ? maxRecipients : Math.min(rcptMax, maxRecipients);
        }
        return new Ehlo(ext, maxTransactions, rcptMax);
    }

    boolean offers(String keyword) {
        return extensions.containsKey(keyword);
    }

    /** The AUTH mechanisms offered, upper case. */
    Set<String> authMechanisms() {
        String p = extensions.getOrDefault("AUTH", "");
        Set<String> out = new java.util.LinkedHashSet<>();
        for (String m : p.trim().split("\\s+")) {
            if (!m.isEmpty()) {
                out.add(m.toUpperCase(Locale.ROOT));
            }
        }
        return out;
    }
}
