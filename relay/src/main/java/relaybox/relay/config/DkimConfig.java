package relaybox.relay.config;

import relaybox.relay.mail.MailNames;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * DKIM's settings ({@code dkim_*} keys and the {@code [[dkim_key]]} tables). DKIM is on when at
 * least one key is configured. Key files are read by {@code DkimKeys}, not here, so this record
 * stays a plain description of the file: plain values only (names, not the DKIM package's types),
 * which the DKIM package turns into its own.
 *
 * @param headerCanon  first half of dkim_canonicalization: "relaxed" or "simple"
 * @param bodyCanon    second half of dkim_canonicalization: "relaxed" or "simple"
 * @param headers      dkim_headers: header fields to sign, each instance present is signed
 * @param oversign     dkim_oversign_headers: fields signed once more than present, so none can be added
 * @param expiry       dkim_expiry: x= is t= plus this; zero means no x= tag
 * @param keyBy        dkim_key_by: whose domain picks the key
 * @param subdomains   dkim_subdomains: a subdomain without its own key uses its parent domain's key
 * @param noKey        dkim_no_key: what to do with mail whose domain has no key
 * @param signWith     dkim_sign_with: with dkim_no_key = "sign_with", the domain whose active keys
 *                     sign mail whose own domain has none; "" otherwise
 * @param keys         the [[dkim_key]] tables
 */
public record DkimConfig(String headerCanon, String bodyCanon, List<String> headers,
                         List<String> oversign, Duration expiry, KeyBy keyBy, boolean subdomains, NoKey noKey,
                         String signWith, List<KeySpec> keys) {

    /** Whose domain picks the signing key. */
    public enum KeyBy { FROM, SENDER }

    /**
     * What happens to a message whose domain has no key: sent unsigned, refused, or signed with
     * the keys of {@code dkim_sign_with} (the operator's own domain, as ESPs sign such mail).
     */
    public enum NoKey { SEND_UNSIGNED, REFUSE, SIGN_WITH }

    /** Without dkim_sign_with, for callers that never use "sign_with". */
    public DkimConfig(String headerCanon, String bodyCanon, List<String> headers,
                      List<String> oversign, Duration expiry, KeyBy keyBy, boolean subdomains, NoKey noKey,
                      List<KeySpec> keys) {
        this(headerCanon, bodyCanon, headers, oversign, expiry, keyBy, subdomains, noKey, "", keys);
    }

    /**
     * One {@code [[dkim_key]]} table.
     *
     * @param where     "FILE: dkim_key[N]", for error messages
     * @param domain    domain: the d= domain, lower case, A-labels
     * @param selector  selector: the s= selector
     * @param keyFile   key_file: PEM private key, PKCS#1 or PKCS#8
     * @param algorithm algorithm: "rsa" or "ed25519" (the k= key type); null means take it from the key file
     * @param active    active: signs new mail; inactive keys stay published and checkable during rotation
     */
    public record KeySpec(String where, String domain, String selector, Path keyFile, String algorithm,
                          boolean active) {
    }

    public static final String DEFAULT_CANONICALIZATION = "relaxed/relaxed";
    public static final List<String> DEFAULT_HEADERS = List.of("From", "To", "Cc", "Subject", "Date",
            "Message-ID", "Reply-To", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "In-Reply-To",
            "References", "List-Unsubscribe", "List-Unsubscribe-Post");
    public static final List<String> DEFAULT_OVERSIGN = List.of("From");
    public static final Duration DEFAULT_EXPIRY = Duration.ZERO;
    public static final String DEFAULT_KEY_BY = "from";
    public static final boolean DEFAULT_SUBDOMAINS = false;
    public static final String DEFAULT_NO_KEY = "send_unsigned";

    private static final java.util.regex.Pattern SELECTOR =
            java.util.regex.Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*");

    /** No keys: DKIM off. */
    public static DkimConfig defaults() {
        try {
            return from(ConfigReader.empty());
        } catch (ConfigException e) {
            throw new IllegalStateException(e);
        }
    }

    public boolean enabled() {
        return !keys.isEmpty();
    }

    public static DkimConfig from(ConfigReader r) throws ConfigException {
        String canon = r.choice("dkim_canonicalization", DEFAULT_CANONICALIZATION,
                "relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed");
        String[] hb = canon.split("/");
        List<String> headers = headerNames(r, "dkim_headers", DEFAULT_HEADERS);
        if (headers.stream().noneMatch("from"::equalsIgnoreCase)) {
            throw r.error("dkim_headers", "must include From (RFC 6376 §5.4)", headers);
        }
        List<String> oversign = headerNames(r, "dkim_oversign_headers", DEFAULT_OVERSIGN);
        Duration expiry = r.duration("dkim_expiry", DEFAULT_EXPIRY);
        KeyBy keyBy = KeyBy.valueOf(upper(r.choice("dkim_key_by", DEFAULT_KEY_BY, "from", "sender")));
        boolean sub = r.bool("dkim_subdomains", DEFAULT_SUBDOMAINS);
        NoKey noKey = NoKey.valueOf(upper(r.choice("dkim_no_key", DEFAULT_NO_KEY, "send_unsigned", "refuse",
                "sign_with")));
        String signWithRaw = r.string("dkim_sign_with", "");
        List<KeySpec> keys = keys(r);
        String signWith = signWith(r, noKey, signWithRaw, keys);
        return new DkimConfig(hb[0], hb[1], headers, oversign,
                expiry, keyBy, sub, noKey, signWith, keys);
    }

    /** dkim_sign_with: required by, and only meaningful with, dkim_no_key = "sign_with". */
    private static String signWith(ConfigReader r, NoKey noKey, String raw, List<KeySpec> keys) throws ConfigException {
        if (noKey != NoKey.SIGN_WITH) {
            if (!raw.isEmpty()) {
                throw r.error("dkim_sign_with", "is used only with dkim_no_key = \"sign_with\"", raw);
            }
            return "";
        }
        if (raw.isBlank()) {
            throw r.error("dkim_sign_with", "dkim_no_key = \"sign_with\" needs the domain whose key signs "
                    + "mail without a key of its own (your domain, with a [[dkim_key]] table)", raw);
        }
        String domain = MailNames.domainOf(raw)
                .orElseThrow(() -> r.error("dkim_sign_with", "is not a domain name", raw));
        if (keys.stream().noneMatch(k -> k.active() && k.domain().equals(domain))) {
            throw r.error("dkim_sign_with", "no active [[dkim_key]] has domain = \"" + domain + "\"", raw);
        }
        return domain;
    }

    private static List<KeySpec> keys(ConfigReader r) throws ConfigException {
        List<KeySpec> out = new ArrayList<>();
        Set<String> selectors = new HashSet<>();
        Set<String> active = new HashSet<>();
        int i = 0;
        for (ConfigReader t : r.tables("dkim_key")) {
            String where = r.source() + ": dkim_key[" + i++ + "]";
            String domainRaw = t.string("domain", null);
            if (domainRaw == null || domainRaw.isBlank()) {
                throw t.error("domain", "is required", "");
            }
            String domain = MailNames.domainOf(domainRaw)
                    .orElseThrow(() -> t.error("domain", "is not a domain name", domainRaw));
            String selector = t.string("selector", null);
            if (selector == null || !SELECTOR.matcher(selector).matches()) {
                throw t.error("selector", "is required: letters, digits, '-' and '.'", selector == null ? "" : selector);
            }
            Path file = t.path("key_file", null);
            if (file == null) {
                throw t.error("key_file", "is required: the PEM private key's path", "");
            }
            String algorithm = t.string("algorithm", null);
            if (algorithm != null && !algorithm.equals("rsa") && !algorithm.equals("ed25519")) {
                throw t.error("algorithm", "expected one of rsa, ed25519", algorithm);
            }
            boolean isActive = t.bool("active", true);
            if (!selectors.add(domain + "/" + selector)) {
                throw t.error("selector", "is configured twice for domain " + domain, selector);
            }
            if (isActive && algorithm != null && !active.add(domain + "/" + algorithm)) {
                throw t.error("active", "only one " + algorithm + " key per domain may be active (" + domain
                        + "); set active = false on the others", true);
            }
            out.add(new KeySpec(where, domain, selector, file, algorithm, isActive));
        }
        return List.copyOf(out);
    }

    private static List<String> headerNames(ConfigReader r, String key, List<String> def) throws ConfigException {
        List<String> names = r.stringList(key, def);
        for (String n : names) {
            if (!MailNames.isFieldName(n)) {
                throw r.error(key, "not a header field name", n);
            }
            if (n.equalsIgnoreCase("DKIM-Signature")) {
                throw r.error(key, "DKIM-Signature cannot be signed by this signer", n);
            }
        }
        return names;
    }

    private static String upper(String s) {
        return s.toUpperCase(Locale.ROOT);
    }
}
