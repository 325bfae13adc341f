package relaybox.relay.config;

import java.net.InetAddress;
import java.util.Optional;

/** A client network such as 10.0.0.0/8 or ::1/128 (intake_networks). Immutable. */
public record Cidr(byte[] network, int prefix, String text) {

    /** Parses "a.b.c.d/n", "v6/n" or a single address (a /32 or /128). Only literal addresses. */
    public static Optional<Cidr> parse(String s) {
        String t = s.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        // Never a DNS lookup: only literals are accepted.
        if (!addr.matches("[0-9.]+") && !(addr.contains(":") && addr.matches("[0-9A-Fa-f:.]+"))) {
            return Optional.empty();
        }
        byte[] bytes;
        try {
            bytes = InetAddress.getByName(addr).getAddress();
        } catch (Exception e) {
            return Optional.empty();
        }
        int max = bytes.length * 8;
        int prefix = max;
        if (slash >= 0) {
            String p = t.substring(slash + 1);
            if (!p.matches("\\d{1,3}") || Integer.parseInt(p) > max) {
                return Optional.empty();
            }
            prefix = Integer.parseInt(p);
        }
        return Optional.of(new Cidr(mask(bytes, prefix), prefix, t));
    }

    public boolean contains(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length != network.length) {
            // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
            if (b.length == 16 && network.length == 4 && isMapped(b)) {
                b = java.util.Arrays.copyOfRange(b, 12, 16);
            } else {
                return false;
            }
        }
        return java.util.Arrays.equals(mask(b, prefix), network);
    }

    private static boolean isMapped(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
    }

    private static byte[] mask(byte[] b, int prefix) {
        byte[] out = b.clone();
        for (int i = 0; i < out.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (0xff << (8 - bits));
        }
        return out;
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && java.util.Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(network) * 31 + prefix;
    }
}
