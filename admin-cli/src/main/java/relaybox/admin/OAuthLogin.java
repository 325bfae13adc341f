package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.OAuthConfig;
import relaybox.relay.config.RelayConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.forward.SecretsFileWriter;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Owns {@code relaybox upstream login NAME}: finds the upstream in the configuration, checks
 * before anyone signs in that the sign-in can be used (an OAuth upstream with the refresh-token
 * grant, a mailbox name, a secrets file this user can write), runs the sign-in the provider
 * allows ({@link DeviceCodeFlow}; {@link BrowserCodeFlow} for Google, whose device flow refuses
 * the Gmail scope, or with {@code --browser}), and writes the refresh token (and the mailbox) to
 * the upstream's {@code auth_file} atomically with {@link SecretsFileWriter}: the file keeps its
 * owner, group and mode; a new one is created 0600 and given to its directory's owner and group
 * (the service user's state directory). No token is ever printed.
 *
 * <p>It loads the configuration reader (it must validate the file as the daemon does); the
 * client commands that only talk to the daemon never come here.
 */
final class OAuthLogin {

    /** Google: without these the authorization code brings no refresh token. */
    static final Map<String, String> GOOGLE_OFFLINE = Map.of("access_type", "offline", "prompt", "consent");
    static final String GOOGLE_DEVICE_REFUSES = "Google's device sign-in (the flow for TVs and limited-input devices)"
            + " does not allow the Gmail scope https://mail.google.com/ (it answers invalid_scope; see"
            + " developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes), so relaybox"
            + " uses the sign-in Google documents for desktop and command-line applications: a browser sign-in with"
            + " a loopback redirect (OAuth client of type \"Desktop app\").";

    /** What the command line asked for. */
    record Request(Path config, String upstream, String user, boolean browser, boolean device, String redirectUri) {
    }

    private final Cli cli;
    private final DeviceCodeFlow.Sleeper sleeper;
    private final Duration timeout;

    OAuthLogin(Cli cli, DeviceCodeFlow.Sleeper sleeper, Duration timeout) {
        this.cli = cli;
        this.sleeper = sleeper;
        this.timeout = timeout;
    }

    int run(Request req) throws CliException {
        UpstreamConfig u = upstream(req);
        OAuthConfig o = u.oauth();
        Path file = u.authFile();
        Map<String, String> present = readable(file);
        checkWritable(file);
        String user = req.user() != null && !req.user().isBlank() ? req.user().strip() : present.get("username");
        if (user == null || user.isBlank()) {
            throw new CliException(Cli.USAGE, file + " has no username= line: name the mailbox to sign in as with"
                    + " --user ADDRESS (it is written to the file as username=)");
        }
        Map<String, String> client = new LinkedHashMap<>();
        client.put("client_id", o.clientId());
        String secret = present.get("client_secret");
        if (secret != null && !secret.isBlank()) {
            client.put("client_secret", secret.strip());
        } else if (o.provider().equals("google")) {
            throw new CliException(Cli.USAGE, file + " has no client_secret= line: Google's token endpoint needs"
                    + " the OAuth client's secret (Google Cloud console > APIs & Services > Credentials > your"
                    + " Desktop app client); add client_secret=... to the file, then run this again");
        }
        boolean browser = req.browser() || (o.provider().equals("google") && !req.device());
        String who = "as " + user + " for upstream " + u.name();
        OAuthEndpoint endpoint = new OAuthEndpoint(timeout);
        JsonNode tokens;
        try {
            if (browser) {
                if (o.provider().equals("google") && !req.browser()) {
                    cli.out().println(GOOGLE_DEVICE_REFUSES);
                    cli.out().println();
                }
                if (o.authorizeEndpoint().isEmpty()) {
                    throw new CliException(Cli.USAGE, "upstream " + u.name() + ": set oauth_authorize_endpoint for"
                            + " the browser sign-in");
                }
                String redirect = req.redirectUri() != null ? req.redirectUri()
                        : o.provider().equals("microsoft") ? "http://localhost:8765/" : "http://127.0.0.1:8765/";
                BufferedReader in = new BufferedReader(new InputStreamReader(cli.in(), StandardCharsets.UTF_8));
                tokens = new BrowserCodeFlow(endpoint, in, cli.out()).signIn(o.authorizeEndpoint(), o.tokenEndpoint(),
                        client, o.scope(), redirect, user,
                        o.provider().equals("google") ? GOOGLE_OFFLINE : Map.of(), who);
            } else {
                if (o.deviceEndpoint().isEmpty()) {
                    throw new CliException(Cli.USAGE, "upstream " + u.name() + ": oauth_provider = \"custom\" needs"
                            + " oauth_device_endpoint for the device sign-in (or use --browser with"
                            + " oauth_authorize_endpoint)");
                }
                tokens = new DeviceCodeFlow(endpoint, sleeper, cli.out()).signIn(o.deviceEndpoint(), o.tokenEndpoint(),
                        client, o.scope(), who);
            }
        } catch (LoginException e) {
            throw new CliException(Cli.NOT_FOUND, "upstream " + u.name() + ": " + e.getMessage());
        }
        String refresh = tokens.path("refresh_token").asText("");
        if (refresh.isEmpty()) {
            throw new CliException(Cli.NOT_FOUND, "upstream " + u.name() + ": the sign-in succeeded but the provider"
                    + " issued no refresh token" + (o.provider().equals("microsoft")
                    ? " (the scope must include offline_access; oauth_scope is \"" + o.scope() + "\")"
                    : " (Google issues one only with access_type=offline and consent)") + "; nothing was written");
        }
        Map<String, String> values = new LinkedHashMap<>();
        values.put("username", user);
        values.put("refresh_token", refresh);
        boolean created = !Files.exists(file);
        try {
            SecretsFileWriter.set(file, values);
            if (created) {
                giveToDirectoryOwner(file);
            }
        } catch (IOException e) {
            throw new CliException(Cli.USAGE, file + ": the sign-in succeeded but the secrets file could not be"
                    + " written (" + e.getMessage() + "); nothing was saved, run the command again once it is writable");
        }
        cli.out().println();
        cli.out().println("Signed in as " + user + ". The refresh token is in " + file + " (" + describe(file) + ").");
        cli.out().println("A running daemon reads the changed file at its next attempt: mail waiting for upstream "
                + u.name() + " goes out by itself. Check with: relaybox upstream test");
        return Cli.OK;
    }

    /** The named upstream of the configuration, if it is one a sign-in is for. */
    private UpstreamConfig upstream(Request req) throws CliException {
        Path f = req.config() != null ? req.config() : cli.defaultConfig();
        RelayConfig config;
        try {
            config = RelayConfig.load(f);
        } catch (ConfigException e) {
            throw new CliException(Cli.USAGE, e.getMessage());
        }
        List<UpstreamConfig> all = config.forward().upstreams();
        UpstreamConfig u = all.stream().filter(x -> x.name().equals(req.upstream())).findFirst().orElse(null);
        if (u == null) {
            throw new CliException(Cli.USAGE, f + ": no upstream named \"" + req.upstream() + "\" (upstreams: "
                    + all.stream().map(UpstreamConfig::name).collect(Collectors.joining(", ")) + ")");
        }
        if (u.oauth() == null) {
            throw new CliException(Cli.USAGE, "upstream " + u.name() + " does not use OAuth (no oauth_provider):"
                    + " its password goes in " + (u.authFile() != null ? u.authFile() : "its auth_file")
                    + "; a sign-in is only for oauth_provider = \"microsoft\", \"google\" or \"custom\"");
        }
        if (u.oauth().grant() == OAuthConfig.Grant.CLIENT_CREDENTIALS) {
            throw new CliException(Cli.USAGE, "upstream " + u.name() + " uses oauth_grant = \"client_credentials\""
                    + " (app-only): there is nobody to sign in; put client_secret=... in " + u.authFile());
        }
        return u;
    }

    /** The keys present in the secrets file (empty when it does not exist yet). */
    private static Map<String, String> readable(Path file) throws CliException {
        Map<String, String> m = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return m;
        }
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                int eq = line.indexOf('=');
                if (eq > 0 && !line.stripLeading().startsWith("#")) {
                    m.putIfAbsent(line.substring(0, eq).strip(), line.substring(eq + 1));
                }
            }
        } catch (IOException e) {
            throw new CliException(Cli.USAGE, file + ": cannot read the secrets file as "
                    + System.getProperty("user.name") + " (" + reason(e) + "); run as root or as the service user:"
                    + " sudo relaybox upstream login ...");
        }
        return m;
    }

    /** Fails before the sign-in when the token could not be saved after it. */
    private static void checkWritable(Path file) throws CliException {
        Path dir = file.toAbsolutePath().getParent();
        String as = " as " + System.getProperty("user.name");
        if (dir == null || !Files.isDirectory(dir)) {
            throw new CliException(Cli.USAGE, file + ": its directory does not exist");
        }
        // The file is replaced by a rename, so its directory must take a new file.
        if (!Files.isWritable(dir) || (Files.exists(file) && !Files.isWritable(file))) {
            throw new CliException(Cli.USAGE, file + ": the secrets file cannot be written" + as + " (the file and"
                    + " its directory " + dir + " must be writable); run as root (sudo relaybox upstream login ...)"
                    + " or as the service user");
        }
    }

    /**
     * A file this login created belongs to its directory's owner and group: root signing in for
     * /var/lib/relaybox (relaybox:relaybox) must leave a file the daemon can read and rewrite.
     * Without the right to change owners, the file stays the writer's, who then owns the directory.
     */
    private static void giveToDirectoryOwner(Path file) {
        try {
            PosixFileAttributes dir = Files.readAttributes(file.toAbsolutePath().getParent(), PosixFileAttributes.class);
            var view = Files.getFileAttributeView(file, java.nio.file.attribute.PosixFileAttributeView.class);
            if (!dir.owner().equals(view.getOwner())) {
                view.setOwner(dir.owner());
            }
            view.setGroup(dir.group());
        } catch (IOException | UnsupportedOperationException e) {
            // Not permitted or not POSIX: the writer's own file, as before.
        }
    }

    private static String describe(Path file) {
        try {
            PosixFileAttributes a = Files.readAttributes(file, PosixFileAttributes.class);
            return "mode " + PosixFilePermissions.toString(a.permissions()) + ", " + a.owner().getName() + ":"
                    + a.group().getName();
        } catch (IOException | UnsupportedOperationException e) {
            return "written";
        }
    }

    private static String reason(IOException e) {
        return e instanceof java.nio.file.AccessDeniedException ? "permission denied" : String.valueOf(e.getMessage());
    }
}
