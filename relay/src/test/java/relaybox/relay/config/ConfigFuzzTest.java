package relaybox.relay.config;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the config reader: text parsed as TOML and turned into a {@link RelayConfig} either gives
 * a config or a {@link ConfigException} with a message; nothing else may escape (the daemon must
 * exit 78 naming the key, never with a stack trace). Half the inputs are raw text; the other half
 * are assembled from the real keys with fuzzed values, because the TOML parser itself is not
 * instrumented and raw text rarely gets past it to our validation.
 */
class ConfigFuzzTest {

    private static final String[] TOP = {"queue_dir", "queue_min_free_space", "queue_retry_min", "queue_retry_max",
        "queue_lifetime", "control_socket", "control_group", "intake_listen", "intake_hostname", "intake_networks",
        "intake_max_message_size", "intake_max_recipients", "intake_max_connections",
        "intake_max_connections_per_client", "intake_command_timeout", "intake_data_timeout",
        "intake_worker_threads", "intake_tls_cert", "intake_tls_key", "intake_auth_credentials",
        "intake_drain_timeout", "intake_auth_max_failures", "forward_concurrency", "forward_idle_timeout",
        "forward_noop_interval", "forward_connect_timeout", "forward_greeting_timeout", "forward_command_timeout",
        "forward_data_timeout", "forward_probe_interval", "forward_helo_name", "forward_dsn", "forward_dsn_rate",
        "dkim_canonicalization", "dkim_headers", "dkim_oversign_headers", "dkim_expiry", "dkim_key_by",
        "dkim_subdomains", "dkim_no_key", "dkim_sign_with", "unknown_key"};
    private static final String[] UPSTREAM = {"name", "type", "host", "tls", "port", "ca_file", "auth_file",
        "messages_per_connection", "max_connections", "rate_per_second", "headers", "envelope_sender",
        "temporary_replies", "sender_domains", "dir", "auth_mechanism", "oauth_provider", "oauth_grant",
        "oauth_tenant", "oauth_token_endpoint", "oauth_client_id", "oauth_scope", "bogus"};
    private static final String[] DKIM = {"domain", "selector", "key_file", "algorithm", "active", "bogus"};

    @FuzzTest(maxDuration = "30s")
    void configText(FuzzedDataProvider in) {
        String text;
        if (in.consumeBoolean()) {
            text = in.consumeRemainingAsString();
        } else {
            StringBuilder b = new StringBuilder();
            int n = in.consumeInt(0, 12);
            for (int i = 0; i < n; i++) {
                b.append(in.pickValue(TOP)).append(" = ").append(value(in)).append('\n');
            }
            for (String table : new String[] {"[[upstream]]", "[[dkim_key]]"}) {
                int tables = in.consumeInt(0, 2);
                for (int t = 0; t < tables; t++) {
                    b.append(table).append('\n');
                    int keys = in.consumeInt(0, 6);
                    for (int k = 0; k < keys; k++) {
                        b.append(in.pickValue(table.contains("upstream") ? UPSTREAM : DKIM)).append(" = ")
                                .append(value(in)).append('\n');
                    }
                }
            }
            text = b.toString();
        }
        try {
            RelayConfig.from(null, ConfigReader.parse("fuzz", text));
        } catch (ConfigException e) {
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                throw new AssertionError("config error without a message", e);
            }
        }
    }

    private static String value(FuzzedDataProvider in) {
        switch (in.consumeInt(0, 4)) {
            case 0:
                return Long.toString(in.consumeLong());
            case 1:
                return in.consumeBoolean() ? "true" : "false";
            case 2:
                return "[" + quoted(in) + ", " + quoted(in) + "]";
            default:
                return quoted(in);
        }
    }

    private static String quoted(FuzzedDataProvider in) {
        String s = in.consumeString(40);
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\');
            }
            b.append(c < 0x20 ? ' ' : c);
        }
        return b.append('"').toString();
    }
}
