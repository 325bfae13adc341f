package relaybox.admin;

import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SimpleResolver;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.DkimConfig;
import relaybox.relay.dkim.DkimAlgorithm;
import relaybox.relay.dkim.DkimCheck;
import relaybox.relay.dkim.DkimKey;
import relaybox.relay.dkim.DkimKeygen;
import relaybox.relay.dkim.DkimKeys;

import java.io.PrintWriter;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code relaybox dkim}: make signing keys and check that DNS publishes them. The logic lives in
 * relay ({@link DkimKeygen}, {@link DkimCheck}); this class only parses options and prints.
 *
 * <p>Exit codes: 0 all good, 1 problems found, 2 usage or configuration error.
 */
@Command(name = "dkim", description = "DKIM keys: generate them and check their DNS records.",
        mixinStandardHelpOptions = true, subcommands = {DkimCommand.Keygen.class, DkimCommand.Check.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:all good", "1:problems found", "2:usage or configuration error"})
public final class DkimCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    /** {@code relaybox dkim keygen}. */
    @Command(name = "keygen", mixinStandardHelpOptions = true,
            description = "Generate a private key (file mode 0600, never overwritten) and print the DNS TXT record "
                    + "to publish and the [[dkim_key]] table to add to relaybox.conf.")
    static final class Keygen implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--domain", required = true, description = "Signing domain (d=).")
        String domain;
        @Option(names = "--selector", required = true, description = "Selector (s=), e.g. s2026.")
        String selector;
        @Option(names = "--algorithm", defaultValue = "rsa", description = "rsa or ed25519 (default: ${DEFAULT-VALUE}).")
        String algorithm;
        @Option(names = "--bits", defaultValue = "2048", description = "RSA key size (default: ${DEFAULT-VALUE}).")
        int bits;
        @Option(names = "--out", defaultValue = "/etc/relaybox/dkim",
                description = "Directory for the key file (default: ${DEFAULT-VALUE}).")
        Path out;
        @Option(names = "--owner", description = "Give the key file to this user (e.g. relaybox); needs root.")
        String owner;

        @Override
        public Integer call() throws Exception {
            PrintWriter o = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            DkimAlgorithm alg;
            DkimKeygen.Result r;
            try {
                alg = DkimAlgorithm.byName(algorithm.toLowerCase(Locale.ROOT));
                r = DkimKeygen.generate(domain, selector, alg, bits, out);
            } catch (IllegalArgumentException | java.nio.file.FileAlreadyExistsException e) {
                err.println("relaybox dkim keygen: " + e.getMessage());
                return 2;
            }
            if (owner != null) {
                UserPrincipalLookupService users = r.keyFile().getFileSystem().getUserPrincipalLookupService();
                Files.setOwner(r.keyFile(), users.lookupPrincipalByName(owner));
            }
            o.println("Wrote " + r.keyFile() + " (mode 0600" + (owner == null ? "" : ", owner " + owner) + ").");
            if (owner == null) {
                o.println("The daemon must be able to read it: chown relaybox: " + r.keyFile());
            }
            o.println();
            o.println("Publish this TXT record in the zone of " + r.key().domain() + ":");
            o.println();
            o.println(r.zoneLine());
            o.println();
            o.println("Add this to relaybox.conf (set active = false first if another " + alg.keyType()
                    + " key is active for the domain; see /etc/relaybox/dkim/README), then run: relaybox dkim check");
            o.println();
            o.print(r.configSnippet());
            o.flush();
            return 0;
        }
    }

    /** {@code relaybox dkim check}. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Look up SELECTOR._domainkey.DOMAIN for every configured key and say whether it publishes "
                    + "that key; also whether the domain's SPF record covers the upstream.")
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = {"-c", "--config"}, defaultValue = "/etc/relaybox/relaybox.conf",
                description = "Configuration file (default: ${DEFAULT-VALUE}).")
        Path config;
        @Option(names = "--domain", description = "Only keys of this domain.")
        String domain;
        @Option(names = "--upstream", description = "Upstream smart host name, for the SPF check (default: the "
                + "host of the first smtp [[upstream]] in the config file).")
        String upstream;
        @Option(names = "--dns-server", description = "Ask this DNS server (HOST or HOST:PORT) instead of the "
                + "system's resolvers.")
        String dnsServer;

        @Override
        public Integer call() throws Exception {
            PrintWriter o = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            DkimKeys keys;
            String spfHost = upstream;
            try {
                ConfigReader r = ConfigReader.load(config);
                // Not as the daemon: often run as root, which cannot judge the key's group; warn only.
                keys = DkimKeys.load(DkimConfig.from(r), w -> err.println("warning: " + w), false);
                if (spfHost == null) {
                    spfHost = firstSmtpHost(r);
                }
            } catch (ConfigException e) {
                err.println("relaybox dkim check: " + e.getMessage());
                return 2;
            }
            List<DkimKey> selected = keys.all().stream()
                    .filter(k -> domain == null || k.domain().equalsIgnoreCase(domain)).toList();
            if (selected.isEmpty()) {
                err.println("relaybox dkim check: no [[dkim_key]] configured" + (domain == null ? "" : " for " + domain)
                        + " in " + config);
                return 1;
            }
            DkimCheck check = new DkimCheck(resolver());
            boolean bad = false;
            Set<String> domains = new LinkedHashSet<>();
            for (DkimKey k : selected) {
                domains.add(k.domain());
                o.println(k.dnsName() + " (" + k.algorithm().keyType() + ", " + (k.active() ? "active" : "inactive")
                        + ")");
                for (DkimCheck.Finding f : check.checkKey(k)) {
                    o.println("  " + f);
                    bad |= f.level() == DkimCheck.Level.ERROR;
                }
            }
            for (String d : domains) {
                DkimCheck.Finding f = check.checkSpf(d, spfHost);
                o.println(d + " SPF");
                o.println("  " + f);
                bad |= f.level() == DkimCheck.Level.ERROR;
            }
            o.flush();
            return bad ? 1 : 0;
        }

        /** The host mail really leaves through: the first smtp upstream of the configuration, or null. */
        private static String firstSmtpHost(ConfigReader r) {
            try {
                return relaybox.relay.config.ForwardConfig.from(r).upstreams().stream()
                        .filter(u -> !u.isOutbox()).map(u -> u.host()).findFirst().orElse(null);
            } catch (ConfigException e) {
                // No usable upstream tables: the SPF check then says what it needs.
                return null;
            }
        }

        private Resolver resolver() throws UnknownHostException {
            if (dnsServer == null) {
                ExtendedResolver r = new ExtendedResolver();
                r.setTimeout(Duration.ofSeconds(5));
                return r;
            }
            int colon = dnsServer.lastIndexOf(':');
            boolean hasPort = colon > 0 && dnsServer.indexOf(':') == colon;
            SimpleResolver r = new SimpleResolver(hasPort ? dnsServer.substring(0, colon) : dnsServer);
            if (hasPort) {
                r.setPort(Integer.parseInt(dnsServer.substring(colon + 1)));
            }
            r.setTimeout(Duration.ofSeconds(5));
            return r;
        }
    }
}
