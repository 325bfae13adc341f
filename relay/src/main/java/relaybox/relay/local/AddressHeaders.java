package relaybox.relay.local;

import java.util.ArrayList;
import java.util.List;

/**
 * Qualifies the bare names in one address-list header field (From:, To:, Cc:): {@code root}
 * becomes {@code root@host.example}, {@code Cron Daemon <root>} becomes
 * {@code Cron Daemon <root@host.example>}, and every other byte (display names, comments,
 * folding, qualified addresses, groups) stays as it was. Text is handled as ISO-8859-1, one char
 * per byte, so 8-bit header bytes pass unchanged.
 *
 * <p>The field is read with RFC 5322's lexical rules (quoted strings, nested comments, angle
 * addresses, groups). Anything that is not clearly a single bare local part, such as a phrase
 * without an address or a malformed list, is left alone: this only adds a domain, never guesses.
 */
public final class AddressHeaders {

    private AddressHeaders() {
    }

    private enum Kind { WORD, QUOTED, SPECIAL }

    private record Token(Kind kind, int start, int end, char special) { }

    /**
     * The field (name, colon and value, with its folding and final CRLF) with its bare names
     * qualified; the same string when there is nothing to change.
     */
    public static String qualify(String field, String domain) {
        int colon = field.indexOf(':');
        if (colon < 0 || domain.isEmpty()) {
            return field;
        }
        List<Token> tokens = lex(field, colon + 1);
        if (tokens == null) {
            return field;
        }
        List<Integer> inserts = new ArrayList<>();
        List<Token> unit = new ArrayList<>();
        for (Token t : tokens) {
            if (t.kind == Kind.SPECIAL && (t.special == ',' || t.special == ';')) {
                insertion(unit, inserts);
                unit.clear();
            } else if (t.kind == Kind.SPECIAL && t.special == ':' && !inAngle(unit)) {
                unit.clear(); // a group's display name: its members follow
            } else {
                unit.add(t);
            }
        }
        insertion(unit, inserts);
        if (inserts.isEmpty()) {
            return field;
        }
        StringBuilder b = new StringBuilder(field.length() + inserts.size() * (domain.length() + 1));
        int from = 0;
        for (int at : inserts) {
            b.append(field, from, at).append('@').append(domain);
            from = at;
        }
        return b.append(field, from, field.length()).toString();
    }

    private static boolean inAngle(List<Token> unit) {
        boolean open = false;
        for (Token t : unit) {
            if (t.kind == Kind.SPECIAL && t.special == '<') {
                open = true;
            } else if (t.kind == Kind.SPECIAL && t.special == '>') {
                open = false;
            }
        }
        return open;
    }

    /** Where "@domain" goes for one mailbox, if it is a bare local part. */
    private static void insertion(List<Token> unit, List<Integer> inserts) {
        int open = -1;
        for (int i = 0; i < unit.size(); i++) {
            if (unit.get(i).kind == Kind.SPECIAL && unit.get(i).special == '<') {
                open = i;
                break;
            }
        }
        if (open >= 0) {
            // name-addr: exactly one word or quoted string between the brackets.
            if (open + 2 < unit.size() && isLocalPart(unit.get(open + 1))
                    && unit.get(open + 2).kind == Kind.SPECIAL && unit.get(open + 2).special == '>') {
                inserts.add(unit.get(open + 1).end);
            }
            return;
        }
        // addr-spec alone: exactly one word or quoted string (comments are not tokens).
        if (unit.size() == 1 && isLocalPart(unit.get(0))) {
            inserts.add(unit.get(0).end);
        }
    }

    private static boolean isLocalPart(Token t) {
        return t.kind == Kind.WORD || t.kind == Kind.QUOTED;
    }

    /** The tokens of the value from {@code from}; null when quotes, comments or brackets do not close. */
    private static List<Token> lex(String s, int from) {
        List<Token> out = new ArrayList<>();
        int i = from;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                i++;
            } else if (c == '(') {
                int depth = 0;
                while (i < n) {
                    char d = s.charAt(i);
                    if (d == '\\') {
                        i++;
                    } else if (d == '(') {
                        depth++;
                    } else if (d == ')' && --depth == 0) {
                        break;
                    }
                    i++;
                }
                if (i >= n) {
                    return null;
                }
                i++;
            } else if (c == '"') {
                int start = i++;
                while (i < n && s.charAt(i) != '"') {
                    i += s.charAt(i) == '\\' ? 2 : 1;
                }
                if (i >= n) {
                    return null;
                }
                out.add(new Token(Kind.QUOTED, start, ++i, '"'));
            } else if (c == '[') {
                // A domain literal: part of an address that already has a domain.
                int end = s.indexOf(']', i);
                if (end < 0) {
                    return null;
                }
                out.add(new Token(Kind.SPECIAL, i, end + 1, '['));
                i = end + 1;
            } else if ("<>@,;:".indexOf(c) >= 0) {
                out.add(new Token(Kind.SPECIAL, i, i + 1, c));
                i++;
            } else if (c == ')' || c == ']' || c == '\\') {
                return null;
            } else {
                int start = i;
                while (i < n && " \t\r\n()<>@,;:\\\"[]".indexOf(s.charAt(i)) < 0) {
                    i++;
                }
                out.add(new Token(Kind.WORD, start, i, 'w'));
            }
        }
        return out;
    }
}
