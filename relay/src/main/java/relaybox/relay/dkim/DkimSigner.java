package relaybox.relay.dkim;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.DkimConfig;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Owns DKIM signing (RFC 6376, RFC 8463): picks the keys for a message, hashes its body while it
 * streams, and writes one DKIM-Signature field per active key of the signing domain (so a domain
 * with an active RSA and an active Ed25519 key is dual-signed). Does not own the bytes (the intake
 * stores them) nor the keys' life cycle ({@link DkimKeys}).
 *
 * <p>What is signed: the header block {@code addedHeaders + client header section}, exactly as it
 * will be sent below the signatures, and the client's body. Memory: the header section is held
 * (at most {@link #MAX_HEADER_BYTES}); the body is hashed as it passes and never held.
 *
 * <p>Signing domain: the From field's domain (or, with {@code dkim_key_by = "sender"}, the envelope
 * sender's, when the intake passes it to {@link #begin(String)}; the null sender falls back to
 * From). Exact match against the configured key domains; with {@code dkim_subdomains = true} a
 * subdomain without keys of its own is signed with its nearest parent's (d= is the parent, which
 * DMARC's relaxed alignment accepts).
 *
 * <p>Mail from a domain without keys follows {@code dkim_no_key}: sent unsigned, refused, or
 * ("sign_with") signed with the active keys of {@code dkim_sign_with}, the operator's domain.
 *
 * <p>Failure behaviour: a header section over 1 MiB, or no key for the domain under
 * {@code dkim_no_key = "refuse"}, is a permanent {@link SigningException} (5xx); a crypto failure is
 * temporary (451). Mail is never sent unsigned except by the explicit "send_unsigned" policy, and
 * then a warning is logged.
 *
 * <p>Thread safety: the signer is immutable and shared; each {@link Session} belongs to one message.
 */
public final class DkimSigner implements MessageSigner {

    private static final Logger LOG = LoggerFactory.getLogger(DkimSigner.class);
    public static final int MAX_HEADER_BYTES = 1 << 20;
    /** Folding width for the fields we write; RFC 5322 recommends lines of at most 78 characters. */
    private static final int LINE = 76;

    private final DkimConfig config;
    /** dkim_canonicalization, turned from the configuration's names into ours once. */
    private final Canonicalization headerCanon;
    private final Canonicalization bodyCanon;
    private final DkimKeys keys;
    private final Clock clock;

    public DkimSigner(DkimConfig config, DkimKeys keys, Clock clock) {
        this.config = config;
        this.headerCanon = Canonicalization.byName(config.headerCanon());
        this.bodyCanon = Canonicalization.byName(config.bodyCanon());
        this.keys = keys;
        this.clock = clock;
    }

    /** The signer for a configuration: {@link MessageSigner#NONE} when no key is configured. */
    public static MessageSigner create(DkimConfig config, Clock clock) throws ConfigException {
        if (!config.enabled()) {
            return MessageSigner.NONE;
        }
        return new DkimSigner(config, DkimKeys.load(config), clock);
    }

    public DkimKeys keys() {
        return keys;
    }

    /** @param envelopeSender the reverse-path, used only with dkim_key_by = "sender"; null if unknown */
    @Override
    public Session begin(String envelopeSender) {
        return new Session(envelopeSender);
    }

    /** One message being signed. */
    public final class Session implements Signing {
        private final String envelopeSender;
        private final BodyHasher body = new BodyHasher(bodyCanon);
        private byte[] header = new byte[4096];
        private int headerLen;
        private boolean inHeader = true;
        private boolean tooLarge;
        private boolean finished;
        private List<SignedBy> signedBy = List.of();

        private Session(String envelopeSender) {
            this.envelopeSender = envelopeSender;
        }

        @Override
        public void update(byte[] b, int off, int len) {
            if (finished) {
                throw new IllegalStateException("update after finish");
            }
            int i = off;
            int end = off + len;
            while (inHeader && i < end) {
                if (headerLen == MAX_HEADER_BYTES) {
                    tooLarge = true; // keep consuming; finish() refuses the message
                    return;
                }
                appendHeader(b[i++]);
                if (headerLen == 2 && header[0] == '\r' && header[1] == '\n') {
                    headerLen = 0; // no header fields at all: the message starts with its body
                    inHeader = false;
                } else if (headerLen >= 4 && header[headerLen - 4] == '\r' && header[headerLen - 3] == '\n'
                        && header[headerLen - 2] == '\r' && header[headerLen - 1] == '\n') {
                    headerLen -= 2; // the empty line separates; it belongs to neither part
                    inHeader = false;
                }
            }
            if (i < end && !tooLarge) {
                body.update(b, i, end - i);
            }
        }

        @Override
        public long heldBytes() {
            return finished ? 0 : header.length;
        }

        private void appendHeader(byte c) {
            if (headerLen == header.length) {
                header = java.util.Arrays.copyOf(header, Math.min(header.length * 2, MAX_HEADER_BYTES));
            }
            header[headerLen++] = c;
        }

        @Override
        public String finish(String addedHeaders) throws SigningException {
            if (finished) {
                throw new IllegalStateException("finish called twice");
            }
            finished = true;
            if (tooLarge) {
                throw new SigningException("header section larger than " + (MAX_HEADER_BYTES >> 10) + " KiB",
                        SigningException.Reason.BAD_MESSAGE, null);
            }
            String added = new String(addedHeaders.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
            HeaderFields fields = HeaderFields.parse(added
                    + new String(header, 0, headerLen, StandardCharsets.ISO_8859_1));
            header = new byte[0]; // parsed: up to 1 MiB less held while the message is queued
            Optional<String> domain = signingDomain(fields);
            List<DkimKey> use = domain.map(d -> keys.activeFor(d, config.subdomains())).orElse(List.of());
            if (use.isEmpty() && config.noKey() == DkimConfig.NoKey.SIGN_WITH) {
                // d= is the operator's domain: DMARC for the From domain does not align, but the
                // mail carries the relay's reputation instead of none.
                use = keys.activeFor(config.signWith(), false);
            }
            if (use.isEmpty()) {
                String why = domain.map(d -> "no DKIM key for domain " + d)
                        .orElse("no signing domain (From field missing, repeated or without an address)");
                if (config.noKey() == DkimConfig.NoKey.REFUSE) {
                    throw new SigningException(why, SigningException.Reason.NO_KEY, null);
                }
                LOG.warn("{}; sending unsigned (dkim_no_key = \"send_unsigned\")", why);
                return "";
            }
            byte[] bh = body.finish();
            long t = clock.instant().getEpochSecond();
            StringBuilder out = new StringBuilder();
            List<SignedBy> by = new ArrayList<>();
            for (DkimKey k : use) {
                try {
                    out.append(sign(k, fields, bh, t));
                } catch (GeneralSecurityException | RuntimeException e) {
                    throw new SigningException("DKIM signing with " + k.label() + " failed: " + e,
                            SigningException.Reason.ERROR, e);
                }
                by.add(new SignedBy(k.domain(), k.selector()));
            }
            signedBy = List.copyOf(by);
            return out.toString();
        }

        @Override
        public List<SignedBy> signedBy() {
            return signedBy;
        }

        /** Feeds a whole message and finishes; for tools and tests. */
        public String finishWith(byte[] message, String addedHeaders) throws SigningException {
            update(message, 0, message.length);
            return finish(addedHeaders);
        }

        /** "domain/selector[,domain/selector]" of the keys that signed, "-" when unsigned; for dkim= in the log. */
        public String summary() {
            return signedBy.isEmpty() ? "-" : String.join(",", signedBy.stream().map(SignedBy::label).toList());
        }

        private Optional<String> signingDomain(HeaderFields fields) {
            if (config.keyBy() == DkimConfig.KeyBy.SENDER && envelopeSender != null && !envelopeSender.isEmpty()) {
                int at = envelopeSender.lastIndexOf('@');
                if (at >= 0) {
                    return HeaderFields.domainOf(envelopeSender.substring(at + 1));
                }
            }
            return fields.fromDomain();
        }
    }

    /** Builds, signs and returns one DKIM-Signature field, CRLF-terminated. */
    private String sign(DkimKey k, HeaderFields fields, byte[] bh, long t) throws GeneralSecurityException {
        List<String> h = signedNames(fields);
        Folder f = new Folder("DKIM-Signature:");
        f.add("v=1;", true);
        f.add("a=" + k.algorithm().tag() + ";", true);
        f.add("c=" + headerCanon.tag() + "/" + bodyCanon.tag() + ";", true);
        f.add("d=" + k.domain() + ";", true);
        f.add("s=" + k.selector() + ";", true);
        f.add("t=" + t + ";", true);
        if (!config.expiry().isZero()) {
            f.add("x=" + (t + config.expiry().getSeconds()) + ";", true);
        }
        for (int i = 0; i < h.size(); i++) {
            String name = (i == 0 ? "h=" : "") + h.get(i) + (i == h.size() - 1 ? ";" : ":");
            f.add(name, i == 0);
        }
        f.add("bh=" + Base64.getEncoder().encodeToString(bh) + ";", true);
        f.add("b=", true);
        String unsigned = f.text();
        byte[] data = headerData(headerCanon, fields, h, unsigned);
        String b = Base64.getEncoder().encodeToString(k.algorithm().sign(k.privateKey(), data));
        for (int i = 0; i < b.length(); ) {
            int room = Math.max(LINE - f.lineLength(), 8);
            int n = Math.min(room, b.length() - i);
            f.addRaw(b.substring(i, i + n));
            i += n;
            if (i < b.length()) {
                f.fold();
            }
        }
        return f.text() + "\r\n";
    }

    /** h=: each configured name once per instance present, over-signed names once more. */
    private List<String> signedNames(HeaderFields fields) {
        List<String> h = new ArrayList<>();
        List<String> names = new ArrayList<>(config.headers());
        for (String o : config.oversign()) {
            if (names.stream().noneMatch(o::equalsIgnoreCase)) {
                names.add(o);
            }
        }
        for (String name : names) {
            String lower = name.toLowerCase(Locale.ROOT);
            int n = fields.count(name);
            if (config.oversign().stream().anyMatch(name::equalsIgnoreCase)) {
                n++;
            }
            for (int i = 0; i < n; i++) {
                h.add(lower);
            }
        }
        return h;
    }

    /**
     * The data the signature covers (RFC 6376 §3.7): the fields named in {@code h}, each instance
     * taken from the bottom up, canonicalised; then the DKIM-Signature field itself with an empty
     * b= value and no final CRLF. A name with no instance left contributes nothing (over-signing).
     */
    static byte[] headerData(Canonicalization c, HeaderFields fields, List<String> h, String unsignedField) {
        StringBuilder d = new StringBuilder();
        Map<String, Integer> used = new HashMap<>();
        List<HeaderFields.Field> all = fields.fields();
        for (String name : h) {
            String key = name.trim().toLowerCase(Locale.ROOT);
            int skip = used.merge(key, 1, Integer::sum) - 1;
            for (int i = all.size() - 1; i >= 0; i--) {
                if (all.get(i).is(key) && skip-- == 0) {
                    d.append(c.header(all.get(i).raw()));
                    break;
                }
            }
        }
        String sig = c.header(unsignedField);
        d.append(sig, 0, sig.length() - 2);
        return d.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Writes a header field folded at token boundaries. */
    private static final class Folder {
        private final StringBuilder b = new StringBuilder();
        private int lineStart;

        Folder(String start) {
            b.append(start);
        }

        void add(String token, boolean space) {
            if (lineLength() + token.length() + 1 > LINE) {
                fold();
            } else if (space) {
                b.append(' ');
            }
            b.append(token);
        }

        void addRaw(String s) {
            b.append(s);
        }

        void fold() {
            b.append("\r\n ");
            lineStart = b.length() - 1;
        }

        int lineLength() {
            return b.length() - lineStart;
        }

        String text() {
            return b.toString();
        }
    }
}
