package relaybox.relay.config;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Arrays;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Owns what relaybox knows about each ESP an {@code [[upstream]]} table can name with
 * {@code preset}: host, port, TLS mode, AUTH mechanism, connection and rate limits and recipients
 * per transaction, each with where it was read. A preset only supplies values: every key written in
 * the table wins over it, and {@code config show} marks the values that came from it. The
 * figures are documented with their sources in the README ("Presets").
 */
public enum UpstreamPreset {

    /** Amazon SES: the host depends on the region, given by {@code ses_region} (or an explicit host). */
    SES("ses", Provider.SES, null, null, 0, 14, 50, 0,
            "https://docs.aws.amazon.com/ses/latest/dg/smtp-connect.html,"
                    + " https://docs.aws.amazon.com/ses/latest/dg/quotas.html"),
    /** SendGrid: username "apikey", the API key as password; 5,000 messages per connection. */
    SENDGRID("sendgrid", Provider.SENDGRID, "smtp.sendgrid.net", null, 0, 0, 0, 5000,
            "https://www.twilio.com/docs/sendgrid/for-developers/sending-email/integrating-with-the-smtp-api"),
    /** Mailgun (US region; EU: host = "smtp.eu.mailgun.org"): one SMTP credential per sending domain. */
    MAILGUN("mailgun", Provider.MAILGUN, "smtp.mailgun.org", null, 0, 0, 0, 0,
            "https://documentation.mailgun.com/docs/mailgun/user-manual/smtp-protocol/smtp-relay"),
    /** Postmark: at most 50 recipients per message. */
    POSTMARK("postmark", Provider.POSTMARK, "smtp.postmarkapp.com", null, 0, 0, 50, 0,
            "https://postmarkapp.com/developer/user-guide/send-email-with-smtp,"
                    + " https://postmarkapp.com/developer/api/email-api"),
    /**
     * Microsoft 365: EHLO offers AUTH LOGIN XOAUTH2 and no PLAIN; 3 connections per mailbox,
     * 30 messages a minute, 500 recipients per message.
     */
    MICROSOFT365("microsoft365", Provider.MICROSOFT, "smtp.office365.com", "login", 3, 0.5, 500, 0,
            "https://learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/smtp-submission-improvements,"
                    + " https://learn.microsoft.com/en-us/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits"),
    /** Gmail / Google Workspace submission: app password or XOAUTH2; 100 recipients per message. */
    GMAIL("gmail", Provider.GOOGLE, "smtp.gmail.com", null, 0, 0, 100, 0,
            "https://support.google.com/a/answer/176600, https://support.google.com/a/answer/3726730"),
    /** Google Workspace SMTP relay: 100 recipients per transaction (more: 452 4.5.3). */
    GOOGLE_RELAY("google-relay", Provider.GOOGLE, "smtp-relay.gmail.com", null, 0, 0, 100, 0,
            "https://support.google.com/a/answer/2956491, https://support.google.com/a/answer/3726730");

    private static final Pattern AWS_REGION = Pattern.compile("[a-z]{2}(-[a-z]+)+-\\d{1,2}");

    private final String word;
    private final Provider provider;
    private final String host;
    private final String authMechanism;
    private final int maxConnections;
    private final double ratePerSecond;
    private final int maxRecipients;
    private final int messagesPerConnection;
    private final String source;

    UpstreamPreset(String word, Provider provider, String host, String authMechanism, int maxConnections,
                   double ratePerSecond, int maxRecipients, int messagesPerConnection, String source) {
        this.word = word;
        this.provider = provider;
        this.host = host;
        this.authMechanism = authMechanism;
        this.maxConnections = maxConnections;
        this.ratePerSecond = ratePerSecond;
        this.maxRecipients = maxRecipients;
        this.messagesPerConnection = messagesPerConnection;
        this.source = source;
    }

    /** The config word ("ses", "microsoft365", ...). */
    public String word() {
        return word;
    }

    public Provider provider() {
        return provider;
    }

    /** Where the values were read (URLs), for the README and {@code config show}. */
    public String source() {
        return source;
    }

    /** The config words, for error messages and {@link ConfigReader#choice}. */
    static String[] words() {
        return Arrays.stream(values()).map(UpstreamPreset::word).toArray(String[]::new);
    }

    static Optional<UpstreamPreset> of(String word) {
        return Arrays.stream(values()).filter(p -> p.word.equals(word)).findFirst();
    }

    /**
     * Reads {@code preset} (and {@code ses_region}) of one [[upstream]] table and lays the
     * preset's values under the table's own keys. Returns the provider dialect: GENERIC without
     * a preset. An unknown preset name is a configuration error.
     */
    static Provider apply(ConfigReader r) throws ConfigException {
        String word = r.string("preset", "");
        String region = r.string("ses_region", "");
        if (word.isEmpty()) {
            if (!region.isEmpty()) {
                throw r.error("ses_region", "only meaningful with preset = \"ses\"", region);
            }
            return Provider.GENERIC;
        }
        UpstreamPreset p = of(word).orElseThrow(() -> r.error("preset", "unknown preset; expected one of "
                + String.join(", ", words()), word));
        r.preset(word, p.values(r, region));
        return p.provider;
    }

    /** The keys this preset fills, given what the table sets itself. */
    private ObjectNode values(ConfigReader r, String region) throws ConfigException {
        ObjectNode v = JsonNodeFactory.instance.objectNode();
        if (this == SES) {
            if (!region.isEmpty() && !AWS_REGION.matcher(region).matches()) {
                throw r.error("ses_region", "expected an AWS region such as \"eu-west-1\"", region);
            }
            if (region.isEmpty() && !r.has("host")) {
                throw r.error("ses_region", "preset = \"ses\" needs the SES region (e.g. ses_region ="
                        + " \"eu-west-1\") or an explicit host", region);
            }
            if (!region.isEmpty()) {
                v.put("host", "email-smtp." + region + ".amazonaws.com");
            }
        } else if (!region.isEmpty()) {
            throw r.error("ses_region", "only meaningful with preset = \"ses\"", region);
        } else {
            v.put("host", host);
        }
        v.put("tls", TlsMode.STARTTLS.word());
        if (!r.has("tls")) {
            // An explicit tls ("tls" for 465) brings its own default port; 587 belongs to starttls.
            v.put("port", TlsMode.STARTTLS.defaultPort());
        }
        boolean oauth = r.has("oauth_provider") || r.has("oauth_client_id");
        if (oauth && provider == Provider.MICROSOFT && !r.has("oauth_provider")) {
            v.put("oauth_provider", "microsoft");
        } else if (oauth && provider == Provider.GOOGLE && !r.has("oauth_provider")) {
            v.put("oauth_provider", "google");
        }
        if (authMechanism != null) {
            // With OAuth configured the mechanism is XOAUTH2; the preset's is for a password.
            v.put("auth_mechanism", oauth ? "xoauth2" : authMechanism);
        }
        if (maxConnections > 0) {
            v.put("max_connections", maxConnections);
        }
        if (ratePerSecond > 0) {
            v.put("rate_per_second", ratePerSecond);
        }
        if (maxRecipients > 0) {
            v.put("max_recipients", maxRecipients);
        }
        if (messagesPerConnection > 0) {
            v.put("messages_per_connection", messagesPerConnection);
        }
        return v;
    }
}
