package relaybox.relay.dkim;

import relaybox.relay.mail.MailNames;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A header section split into fields, top to bottom, each kept exactly as it appeared (ISO-8859-1
 * text, one char per byte, folding and final CRLF included). Also owns the one question DKIM asks
 * of header content: which domain the From field names.
 */
public final class HeaderFields {

    /** One field: its name as written and its full raw text. */
    public record Field(String name, String raw) {
        public boolean is(String other) {
            return name.equalsIgnoreCase(other);
        }
    }

    private final List<Field> fields;

    private HeaderFields(List<Field> fields) {
        this.fields = List.copyOf(fields);
    }

    public List<Field> fields() {
        return fields;
    }

    /** A field name as RFC 5322 allows it ({@link MailNames#isFieldName}). */
    public static boolean isFieldName(String s) {
        return MailNames.isFieldName(s);
    }

    /** Splits {@code text} (CRLF line ends; a line starting with SP/HTAB continues a field). */
    public static HeaderFields parse(String text) {
        List<Field> out = new ArrayList<>();
        int start = 0;
        int n = text.length();
        while (start < n) {
            int end = start;
            while (true) {
                int crlf = text.indexOf("\r\n", end);
                if (crlf < 0) {
                    end = n;
                    break;
                }
                end = crlf + 2;
                if (end >= n || (text.charAt(end) != ' ' && text.charAt(end) != '\t')) {
                    break;
                }
            }
            String raw = text.substring(start, end);
            int colon = raw.indexOf(':');
            String name = colon < 0 ? "" : raw.substring(0, colon).stripTrailing();
            out.add(new Field(name, raw));
            start = end;
        }
        return new HeaderFields(out);
    }

    public static HeaderFields parse(byte[] b, int off, int len) {
        return parse(new String(b, off, len, StandardCharsets.ISO_8859_1));
    }

    public int count(String name) {
        int c = 0;
        for (Field f : fields) {
            if (f.is(name)) {
                c++;
            }
        }
        return c;
    }

    /**
     * The domain of the (single) From field's first mailbox, lower case, as an A-label when it was
     * written in UTF-8. Empty when there is no From, more than one (RFC 5322 allows exactly one,
     * and DMARC rejects such mail anyway), or no address can be found in it.
     */
    public Optional<String> fromDomain() {
        Field from = null;
        for (Field f : fields) {
            if (f.is("from")) {
                if (from != null) {
                    return Optional.empty();
                }
                from = f;
            }
        }
        if (from == null) {
            return Optional.empty();
        }
        String latin1 = from.raw().substring(from.raw().indexOf(':') + 1);
        String value = new String(latin1.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
        return addressDomain(value);
    }

    /**
     * The domain of the first address in a From-like value. Shallow on purpose: comments and quoted
     * strings are removed, then the first angle-address (or else the first bare address) is used.
     */
    public static Optional<String> addressDomain(String value) {
        String v = stripCommentsAndQuotes(value.replace("\r\n", ""));
        String addr;
        int lt = v.indexOf('<');
        if (lt >= 0) {
            int gt = v.indexOf('>', lt);
            addr = gt < 0 ? v.substring(lt + 1) : v.substring(lt + 1, gt);
        } else {
            int colon = v.indexOf(':'); // group syntax: "Team: a@x, b@y;"
            String list = colon >= 0 && colon < v.indexOf('@') ? v.substring(colon + 1) : v;
            addr = list.split(",", -1)[0];
        }
        int at = addr.lastIndexOf('@');
        if (at < 0) {
            return Optional.empty();
        }
        return domainOf(addr.substring(at + 1));
    }

    /** Normalises a domain for key lookup ({@link MailNames#domainOf}). */
    public static Optional<String> domainOf(String raw) {
        return MailNames.domainOf(raw);
    }

    private static String stripCommentsAndQuotes(String v) {
        StringBuilder b = new StringBuilder(v.length());
        int depth = 0;
        boolean quoted = false;
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\\' && i + 1 < v.length()) {
                i++;
                continue;
            }
            if (quoted) {
                quoted = c != '"';
            } else if (c == '"' && depth == 0) {
                quoted = true;
            } else if (c == '(') {
                depth++;
            } else if (c == ')' && depth > 0) {
                depth--;
            } else if (depth == 0) {
                b.append(c);
            }
        }
        return b.toString();
    }
}
