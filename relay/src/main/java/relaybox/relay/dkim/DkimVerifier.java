package relaybox.relay.dkim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks DKIM signatures on a whole message, with keys from a caller-supplied lookup instead of
 * DNS. A deliberately small verifier: it exists so tests (and {@code dkim check}-style tooling)
 * can confirm what relaybox signs, without the policy parts of a receiving verifier (no l= body
 * truncation, no x= enforcement, no i= checks). It shares the canonicalisation code with the
 * signer, so it is paired in the tests with independent verifiers (dkimpy, Mail::DKIM).
 */
public final class DkimVerifier {

    /** One DKIM-Signature field's verdict. */
    public record Result(String domain, String selector, String algorithm, boolean pass, String reason) {
    }

    private static final Pattern B_VALUE = Pattern.compile("((?:^|;)\\s*b\\s*=)[^;]*");

    private final Function<String, Optional<String>> txt;

    /** @param txt returns the TXT record (strings joined) published at a name, if any */
    public DkimVerifier(Function<String, Optional<String>> txt) {
        this.txt = txt;
    }

    public List<Result> verify(byte[] message) {
        int split = indexOf(message, new byte[]{'\r', '\n', '\r', '\n'});
        int headerEnd;
        int bodyStart;
        if (message.length >= 2 && message[0] == '\r' && message[1] == '\n') {
            headerEnd = 0;
            bodyStart = 2;
        } else if (split < 0) {
            headerEnd = message.length;
            bodyStart = message.length;
        } else {
            headerEnd = split + 2;
            bodyStart = split + 4;
        }
        HeaderFields fields = HeaderFields.parse(message, 0, headerEnd);
        List<Result> out = new ArrayList<>();
        for (HeaderFields.Field f : fields.fields()) {
            if (f.is("DKIM-Signature")) {
                out.add(check(f, fields, Arrays.copyOfRange(message, bodyStart, message.length)));
            }
        }
        return out;
    }

    private Result check(HeaderFields.Field f, HeaderFields fields, byte[] body) {
        String raw = f.raw().endsWith("\r\n") ? f.raw().substring(0, f.raw().length() - 2) : f.raw();
        Optional<Map<String, String>> parsed = DkimRecord.tags(raw.substring(raw.indexOf(':') + 1));
        if (parsed.isEmpty()) {
            return new Result("", "", "", false, "bad tag syntax");
        }
        Map<String, String> t = parsed.get();
        String d = t.getOrDefault("d", "");
        String s = t.getOrDefault("s", "");
        String a = t.getOrDefault("a", "");
        for (String required : List.of("v", "a", "b", "bh", "d", "h", "s")) {
            if (!t.containsKey(required)) {
                return new Result(d, s, a, false, "missing " + required + "=");
            }
        }
        try {
            DkimAlgorithm alg = DkimAlgorithm.byName(a);
            String[] c = t.getOrDefault("c", "simple/simple").split("/", -1);
            Canonicalization hc = Canonicalization.byName(c[0]);
            Canonicalization bc = Canonicalization.byName(c.length > 1 ? c[1] : "simple");
            BodyHasher bh = new BodyHasher(bc);
            bh.update(body, 0, body.length);
            if (!MessageDigest.isEqual(bh.finish(), DkimRecord.base64(t.get("bh")))) {
                return new Result(d, s, a, false, "body hash mismatch");
            }
            Optional<String> record = txt.apply(s + "._domainkey." + d);
            if (record.isEmpty()) {
                return new Result(d, s, a, false, "no key record");
            }
            Map<String, String> k = DkimRecord.tags(record.get()).orElseThrow(() ->
                    new IllegalArgumentException("bad key record syntax"));
            if (!DkimAlgorithm.byName(k.getOrDefault("k", "rsa")).equals(alg)) {
                return new Result(d, s, a, false, "key type does not match a=");
            }
            PublicKey pub = DkimRecord.publicKey(alg, DkimRecord.base64(k.getOrDefault("p", "")));
            List<String> h = Arrays.stream(t.get("h").split(":")).map(String::trim).toList();
            Matcher m = B_VALUE.matcher(raw);
            String unsigned = m.find() ? raw.substring(0, m.end(1)) + raw.substring(m.end()) : raw;
            byte[] data = DkimSigner.headerData(hc, fields, h, unsigned);
            boolean ok = alg.verify(pub, data, DkimRecord.base64(t.get("b")));
            return new Result(d, s, a, ok, ok ? "pass" : "signature mismatch");
        } catch (Exception e) {
            return new Result(d, s, a, false, "error: " + e.getMessage());
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Convenience for tests: a message given as text (UTF-8). */
    public List<Result> verify(String message) {
        return verify(message.getBytes(StandardCharsets.UTF_8));
    }
}
