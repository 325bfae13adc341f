package relaybox.relay.local;

import relaybox.relay.config.LocalMailConfig;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Owns what a local name means: a bare name ({@code root}, {@code www-data}) is qualified with
 * {@code local_domain}, and a recipient at {@code local_domain} or {@code localhost} is replaced
 * by its {@code [aliases]} entry (or the {@code "*"} catch-all), as nullmailer's
 * {@code defaultdomain}/{@code adminaddr} and Postfix's {@code myorigin}/{@code aliases} do.
 * Pure and immutable; it neither checks syntax nor decides who may relay.
 *
 * <p>Aliases are expanded recursively ({@code postmaster = "root"}, {@code root = "ops@corp"}),
 * at most {@link #MAX_DEPTH} deep; a name met again on its own path stays as it is, so a loop
 * ends in an address rather than in an error.
 */
public final class LocalNames {

    static final int MAX_DEPTH = 8;

    /** No qualification domain and no aliases: names pass unchanged (tests of other stages). */
    public static final LocalNames NONE = new LocalNames("", Map.of());

    private final String domain;
    private final Map<String, List<String>> aliases;

    public LocalNames(String domain, Map<String, List<String>> aliases) {
        this.domain = domain.toLowerCase(Locale.ROOT);
        this.aliases = Map.copyOf(aliases);
    }

    public static LocalNames of(LocalMailConfig c) {
        return new LocalNames(c.localDomain(), c.aliases());
    }

    public String domain() {
        return domain;
    }

    /** True for a name without a domain: no '@' outside a quoted local part, and not empty. */
    public static boolean isBare(String address) {
        if (address.isEmpty()) {
            return false;
        }
        boolean quoted = false;
        for (int i = 0; i < address.length(); i++) {
            char c = address.charAt(i);
            if (c == '\\' && quoted) {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == '@' && !quoted) {
                return false;
            }
        }
        return true;
    }

    /** {@code root} becomes {@code root@local_domain}; anything else is returned as it is. */
    public String qualify(String address) {
        if (domain.isEmpty() || !isBare(address)) {
            return address;
        }
        return address + "@" + domain;
    }

    /** True when the address is at local_domain or localhost (after qualification). */
    public boolean isLocal(String address) {
        int at = address.lastIndexOf('@');
        if (at < 0) {
            return true;
        }
        String d = address.substring(at + 1).toLowerCase(Locale.ROOT);
        return d.equals("localhost") || (!domain.isEmpty() && d.equals(domain));
    }

    /**
     * The addresses a recipient is delivered to: itself, qualified, unless it is local and has an
     * alias (or there is a catch-all). The result has no duplicates and keeps the table's order.
     */
    public List<String> expand(String recipient) {
        Set<String> out = new LinkedHashSet<>();
        expand(qualify(recipient), out, new ArrayList<>(), false);
        return List.copyOf(out);
    }

    private void expand(String address, Set<String> out, List<String> path, boolean catchAllUsed) {
        String name = localPart(address);
        List<String> target = null;
        boolean viaCatchAll = false;
        if (!aliases.isEmpty() && isLocal(address) && path.size() < MAX_DEPTH && !path.contains(name)) {
            target = aliases.get(name);
            if (target == null && !catchAllUsed) {
                // The catch-all is followed once on a path: "*" = "root", then root's own entry.
                target = aliases.get("*");
                viaCatchAll = target != null;
            }
        }
        if (target == null) {
            out.add(address);
            return;
        }
        path.add(name);
        for (String t : target) {
            expand(qualify(t), out, path, catchAllUsed || viaCatchAll);
        }
        path.remove(path.size() - 1);
    }

    /** The lower-cased local part of a local address (quotes kept). */
    private static String localPart(String address) {
        int at = address.lastIndexOf('@');
        return (at < 0 ? address : address.substring(0, at)).toLowerCase(Locale.ROOT);
    }
}
