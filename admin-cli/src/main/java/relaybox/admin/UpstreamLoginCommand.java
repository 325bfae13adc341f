package relaybox.admin;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code relaybox upstream login NAME}: the operator's sign-in that gives an XOAUTH2 upstream its
 * first refresh token (see {@link OAuthLogin}). Its fields are plain types, so that picocli
 * building this command's model for {@code relaybox upstream test} loads nothing of the daemon.
 */
@Command(name = "login", mixinStandardHelpOptions = true,
        description = {"Sign in once as the upstream's mailbox and write the refresh token to its auth_file.",
                "Microsoft: the device-code sign-in (open a URL anywhere, enter a code). Google: its device "
                        + "sign-in does not allow the Gmail scope, so a browser sign-in whose final address you "
                        + "paste back (also with --browser for Microsoft).",
                "Exit 1 if the sign-in was declined, expired or refused by the provider; 2 for a configuration "
                        + "problem (unknown upstream, not an OAuth upstream, secrets file not writable)."})
final class UpstreamLoginCommand implements Callable<Integer> {

    private final Cli cli;

    @Parameters(paramLabel = "NAME", description = "The upstream's name in the configuration.")
    String name;
    @Option(names = "--config", paramLabel = "FILE", description = "Config file (default: /etc/relaybox/relaybox.conf).")
    Path config;
    @Option(names = "--user", paramLabel = "ADDRESS",
            description = "The mailbox to sign in as (default: username= of the auth_file); written as username=.")
    String user;
    @Option(names = "--browser", description = "Browser sign-in with a pasted address instead of the device code.")
    boolean browser;
    @Option(names = "--device", description = "Device-code sign-in even for Google (for a custom oauth_scope it allows).")
    boolean device;
    @Option(names = "--redirect-uri", paramLabel = "URI", description = "Loopback redirect of the browser sign-in, as "
            + "registered for the app (default: Microsoft http://localhost:8765/, Google http://127.0.0.1:8765/).")
    String redirectUri;
    @Option(names = "--timeout", hidden = true, defaultValue = "30", description = "Seconds per HTTP request.")
    long timeoutSeconds;

    UpstreamLoginCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException {
        if (browser && device) {
            throw new CliException(Cli.USAGE, "--browser and --device: choose one");
        }
        return new OAuthLogin(cli, d -> Thread.sleep(d.toMillis()), Duration.ofSeconds(timeoutSeconds))
                .run(new OAuthLogin.Request(config, name, user, browser, device, redirectUri));
    }
}
