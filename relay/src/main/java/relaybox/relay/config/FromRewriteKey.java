package relaybox.relay.config;

/**
 * Owns the {@code from_rewrite} key (of an upstream and of a login): the verified identity that
 * replaces the header From:, written as an address ("alerts@example.com") or with a display name
 * ("Alerts <alerts@example.com>"); "" for none.
 */
final class FromRewriteKey {

    private FromRewriteKey() {
    }

    static String read(ConfigReader r) throws ConfigException {
        String v = r.string("from_rewrite", "");
        if (v.isEmpty()) {
            return v;
        }
        String addr = address(v);
        if (v.contains("\r") || v.contains("\n") || addr.isEmpty() || addr.indexOf('@') <= 0
                || addr.contains(" ") || addr.endsWith("@")) {
            throw r.error("from_rewrite", "expected a verified address like alerts@example.com"
                    + " or \"Alerts <alerts@example.com>\"", v);
        }
        return v;
    }

    /** The address of a from_rewrite value: inside the angle brackets, else the whole value. */
    static String address(String value) {
        int lt = value.lastIndexOf('<');
        int gt = value.lastIndexOf('>');
        return lt >= 0 && gt > lt ? value.substring(lt + 1, gt).strip() : lt >= 0 || gt >= 0 ? "" : value.strip();
    }
}
