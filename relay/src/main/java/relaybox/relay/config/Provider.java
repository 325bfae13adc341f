package relaybox.relay.config;

/**
 * Owns the name of the provider dialect an upstream speaks: which ESP is on the other side, so
 * the one failure policy can apply what is known about that provider's replies. Set by an
 * upstream's {@code preset} (see {@link UpstreamPreset}); {@link #GENERIC} for any other smart host.
 */
public enum Provider {
    /** A smart host of unknown kind: no provider-specific knowledge applies. */
    GENERIC,
    /** Amazon SES. */
    SES,
    /** Twilio SendGrid. */
    SENDGRID,
    /** Mailgun. */
    MAILGUN,
    /** Postmark. */
    POSTMARK,
    /** Microsoft 365 (Exchange Online SMTP AUTH submission). */
    MICROSOFT,
    /** Google: Gmail / Workspace submission and the Workspace SMTP relay. */
    GOOGLE
}
