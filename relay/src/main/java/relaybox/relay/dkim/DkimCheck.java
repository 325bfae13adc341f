package relaybox.relay.dkim;

import org.xbill.DNS.Lookup;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Owns "is DNS right for our keys": looks up {@code selector._domainkey.domain} and compares what is
 * published with the configured private key, and looks at the domain's SPF record for the
 * upstream. Reports findings; changes nothing. The resolver is injected so tests use a fake server.
 */
public final class DkimCheck {

    /** How bad a finding is. */
    public enum Level { OK, WARN, ERROR }

    /** One line of the report. */
    public record Finding(Level level, String text) {
        @Override
        public String toString() {
            return level + ": " + text;
        }
    }

    /**
     * Known smart hosts and the SPF include their operators document: host suffix, include domain.
     * Used only to say "yes" with more confidence; an unknown upstream gives "cannot tell".
     */
    static final List<String[]> KNOWN_UPSTREAMS = List.of(
            new String[]{".amazonaws.com", "amazonses.com"},
            new String[]{".sendgrid.net", "sendgrid.net"},
            new String[]{".mailgun.org", "mailgun.org"},
            new String[]{".postmarkapp.com", "spf.mtasv.net"},
            new String[]{".mandrillapp.com", "spf.mandrillapp.com"},
            new String[]{".sparkpostmail.com", "sparkpostmail.com"},
            new String[]{".brevo.com", "spf.brevo.com"},
            new String[]{".sendinblue.com", "spf.sendinblue.com"},
            new String[]{".gmail.com", "_spf.google.com"},
            new String[]{".office365.com", "spf.protection.outlook.com"},
            new String[]{".outlook.com", "spf.protection.outlook.com"});

    private final Resolver resolver;

    public DkimCheck(Resolver resolver) {
        this.resolver = resolver;
    }

    /** Compares the published record for {@code key} with the key itself. */
    public List<Finding> checkKey(DkimKey key) {
        String name = key.dnsName();
        List<Finding> out = new ArrayList<>();
        Lookup l = txt(name);
        if (l.getResult() == Lookup.HOST_NOT_FOUND || l.getResult() == Lookup.TYPE_NOT_FOUND) {
            out.add(new Finding(Level.ERROR, "missing record: no TXT record at " + name + "; publish:  "
                    + key.txtRecord()));
            return out;
        }
        if (l.getResult() != Lookup.SUCCESSFUL) {
            out.add(new Finding(Level.ERROR, "DNS lookup of " + name + " failed: " + l.getErrorString()));
            return out;
        }
        List<String> records = joined(l.getAnswers());
        List<String> dkim = records.stream().filter(r -> r.contains("p=")).toList();
        if (dkim.isEmpty()) {
            out.add(new Finding(Level.ERROR, "bad syntax: TXT at " + name + " has no p= tag: " + records));
            return out;
        }
        if (dkim.size() > 1) {
            out.add(new Finding(Level.ERROR, "several key records at " + name + "; verifiers pick one at random: "
                    + dkim));
            return out;
        }
        compare(key, dkim.get(0), name, out);
        return out;
    }

    private static void compare(DkimKey key, String record, String name, List<Finding> out) {
        Optional<Map<String, String>> parsed = DkimRecord.tags(record);
        if (parsed.isEmpty()) {
            out.add(new Finding(Level.ERROR, "bad syntax: " + name + " is not a tag=value list: " + record));
            return;
        }
        Map<String, String> t = parsed.get();
        if (t.containsKey("v") && (!t.get("v").equals("DKIM1") || !record.trim().startsWith("v"))) {
            out.add(new Finding(Level.ERROR, "bad syntax: v= must be DKIM1 and come first: " + record));
            return;
        }
        String k = t.getOrDefault("k", "rsa");
        if (!k.equalsIgnoreCase(key.algorithm().keyType())) {
            out.add(new Finding(Level.ERROR, "wrong key: " + name + " publishes k=" + k + " but the key file holds an "
                    + key.algorithm().keyType() + " key"));
            return;
        }
        String p = t.getOrDefault("p", null);
        if (p == null) {
            out.add(new Finding(Level.ERROR, "bad syntax: no p= in " + record));
            return;
        }
        if (p.isBlank()) {
            out.add(new Finding(Level.ERROR, "revoked: " + name + " has an empty p=, so every signature fails"));
            return;
        }
        PublicKey published;
        try {
            published = DkimRecord.publicKey(key.algorithm(), DkimRecord.base64(p));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            out.add(new Finding(Level.ERROR, "bad syntax: p= is not a valid " + k + " public key (" + e.getMessage()
                    + ")"));
            return;
        }
        if (!sameKey(published, key.publicKey())) {
            out.add(new Finding(Level.ERROR, "wrong key: " + name + " publishes a different key than " + key.file()
                    + "; publish:  " + key.txtRecord()));
            return;
        }
        int bits = DkimRecord.bits(published);
        if (key.algorithm() == DkimAlgorithm.RSA_SHA256 && bits < DkimKeys.MIN_RSA_BITS) {
            out.add(new Finding(Level.ERROR, "key too short: " + bits + " bits; verifiers ignore RSA keys under "
                    + DkimKeys.MIN_RSA_BITS + " bits"));
            return;
        }
        if (key.algorithm() == DkimAlgorithm.RSA_SHA256 && bits < DkimKeys.WARN_RSA_BITS) {
            out.add(new Finding(Level.WARN, "key too short for comfort: " + bits + " bits; 2048 is recommended"));
        }
        if (t.containsKey("h") && Arrays.stream(t.get("h").split(":")).noneMatch(h -> h.trim().equals("sha256"))) {
            out.add(new Finding(Level.ERROR, "h=" + t.get("h") + " does not allow sha256, so verifiers reject our "
                    + "signatures"));
        }
        if (t.containsKey("s") && Arrays.stream(t.get("s").split(":")).map(String::trim)
                .noneMatch(s -> s.equals("*") || s.equals("email"))) {
            out.add(new Finding(Level.ERROR, "s=" + t.get("s") + " does not allow email"));
        }
        if (t.containsKey("t") && Arrays.stream(t.get("t").split(":")).anyMatch(f -> f.trim().equals("y"))) {
            out.add(new Finding(Level.WARN, "testing flag t=y is set: receivers treat our signatures as absent when "
                    + "they fail; remove it once mail verifies"));
        }
        out.add(new Finding(Level.OK, "match: " + name + " publishes the public key of " + key.file()
                + (key.active() ? "" : " (inactive key)")));
    }

    private static boolean sameKey(PublicKey a, PublicKey b) {
        if (a instanceof RSAPublicKey ra && b instanceof RSAPublicKey rb) {
            return ra.getModulus().equals(rb.getModulus()) && ra.getPublicExponent().equals(rb.getPublicExponent());
        }
        return Arrays.equals(DkimRecord.publicKeyData(a), DkimRecord.publicKeyData(b));
    }

    /**
     * Whether {@code domain}'s SPF record authorises the upstream. Shallow by design: it reads the
     * top-level record only (include:, a:, mx:, redirect= targets compared by name), and says
     * "cannot tell" rather than guess when it would need to evaluate further.
     */
    public Finding checkSpf(String domain, String upstreamHost) {
        Lookup l = txt(domain);
        if (l.getResult() == Lookup.HOST_NOT_FOUND || l.getResult() == Lookup.TYPE_NOT_FOUND) {
            return new Finding(Level.WARN, "SPF: " + domain + " has no TXT records, so no SPF record");
        }
        if (l.getResult() != Lookup.SUCCESSFUL) {
            return new Finding(Level.WARN, "SPF: lookup of " + domain + " failed: " + l.getErrorString());
        }
        List<String> spf = joined(l.getAnswers()).stream()
                .filter(r -> r.toLowerCase(Locale.ROOT).matches("v=spf1(\\s.*)?")).toList();
        if (spf.isEmpty()) {
            return new Finding(Level.WARN, "SPF: " + domain + " has no SPF record (v=spf1)");
        }
        if (spf.size() > 1) {
            return new Finding(Level.ERROR, "SPF: " + domain + " has " + spf.size() + " SPF records; receivers treat "
                    + "that as a permanent error: " + spf);
        }
        if (upstreamHost == null || upstreamHost.isBlank()) {
            return new Finding(Level.WARN, "SPF: cannot tell: no upstream host given; record is: " + spf.get(0));
        }
        return spfCovers(spf.get(0), upstreamHost.toLowerCase(Locale.ROOT));
    }

    static Finding spfCovers(String record, String host) {
        String expected = null;
        for (String[] known : KNOWN_UPSTREAMS) {
            if (host.endsWith(known[0]) || host.equals(known[0].substring(1))) {
                expected = known[1];
            }
        }
        List<String> targets = new ArrayList<>();
        for (String term : record.trim().split("\\s+")) {
            String t = term.toLowerCase(Locale.ROOT).replaceFirst("^[+?~-]", "");
            for (String mech : List.of("include:", "a:", "mx:", "redirect=")) {
                if (t.startsWith(mech)) {
                    targets.add(t.substring(mech.length()).replaceFirst("/.*$", ""));
                }
            }
        }
        for (String target : targets) {
            if (target.equals(expected)) {
                return new Finding(Level.OK, "SPF: includes " + target + ", the documented SPF include for " + host);
            }
            if (host.equals(target) || host.endsWith("." + target) || sameParent(host, target)) {
                return new Finding(Level.OK, "SPF: names " + target + ", which looks like the upstream " + host
                        + "'s own domain");
            }
        }
        if (expected != null) {
            return new Finding(Level.WARN, "SPF: does not include " + expected + ", which " + host
                    + "'s operator documents; add include:" + expected + " (record is: " + record + ")");
        }
        return new Finding(Level.WARN, "SPF: cannot tell whether " + record + " authorises " + host
                + "; check your provider's documented include:");
    }

    /**
     * Same registered domain, guessed shallowly: the last two labels, or three when the second-last
     * is short ("co.uk", "com.au"), so unrelated customers of one public suffix never match.
     */
    private static boolean sameParent(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        if (x.length < 2 || y.length < 2) {
            return false;
        }
        int n = x[x.length - 2].length() <= 3 ? 3 : 2;
        if (x.length < n || y.length < n) {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if (!x[x.length - i].equals(y[y.length - i])) {
                return false;
            }
        }
        return true;
    }

    private Lookup txt(String name) {
        try {
            Lookup l = new Lookup(Name.fromString(name.endsWith(".") ? name : name + "."), Type.TXT);
            l.setResolver(resolver);
            l.setCache(null);
            l.run();
            return l;
        } catch (TextParseException e) {
            throw new IllegalArgumentException("not a DNS name: " + name, e);
        }
    }

    /** Each TXT record's strings joined, as RFC 6376 §3.6.2.2 and RFC 7208 §3.3 require. */
    private static List<String> joined(Record[] answers) {
        List<String> out = new ArrayList<>();
        if (answers != null) {
            for (Record r : answers) {
                if (r instanceof TXTRecord txt) {
                    out.add(String.join("", txt.getStrings()));
                }
            }
        }
        return out;
    }
}
