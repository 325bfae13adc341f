package relaybox.relay.dkim;

/**
 * What the intake asks of DKIM: sign a message while its bytes stream past, once, before it is
 * queued, so retries send exactly the bytes that were signed. Implementations own key choice and
 * canonicalisation; the intake owns the bytes and where the result goes.
 *
 * <p>Call order per message: {@link #begin(String)}, then {@link Signing#update} with every byte of the
 * client's message in order (exactly the bytes that are stored), then {@link Signing#finish} once.
 */
public interface MessageSigner {

    /** Signs nothing; for when DKIM is not configured. */
    MessageSigner NONE = sender -> new Signing() {
        @Override
        public void update(byte[] b, int off, int len) {
        }

        @Override
        public String finish(String addedHeaders) {
            return "";
        }
    };

    /** @param envelopeSender the reverse-path ("" for the null sender); used when keys are chosen by sender */
    Signing begin(String envelopeSender);

    /** One message being signed. Not thread-safe; used by one intake session at a time. */
    interface Signing {
        /** The next bytes of the client's message (headers and body, CRLF line ends, not dot-stuffed). */
        void update(byte[] b, int off, int len);

        /**
         * Finishes the signature.
         *
         * @param addedHeaders header lines the intake puts above the client's headers (Received:,
         *                     a missing Date: or Message-ID:), CRLF-terminated; they are part of
         *                     the header block that is signed
         * @return the DKIM-Signature header field(s), CRLF-terminated, to be placed above
         *         {@code addedHeaders}; "" when the policy says to send this message unsigned
         * @throws SigningException when the message must not be queued (signing failed, or no
         *                          key for its domain and the policy says refuse)
         */
        String finish(String addedHeaders) throws SigningException;

        /**
         * The d= and s= of each signature {@link #finish} made, in order; empty when unsigned (or
         * before finish). The log and the metrics take these, never the header text.
         */
        default java.util.List<SignedBy> signedBy() {
            return java.util.List.of();
        }

        /**
         * Heap this signing holds now, in bytes (the header section it keeps until
         * {@link #finish}); the intake counts it against its header-memory budget.
         */
        default long heldBytes() {
            return 0;
        }
    }

    /** Who signed: a signature's d= domain and s= selector. */
    record SignedBy(String domain, String selector) {
        /** "domain/selector", the form log lines use. */
        public String label() {
            return domain + "/" + selector;
        }
    }

    /**
     * A message could not be signed, for {@link #reason()}: decided where signing failed and
     * carried as data, so the intake's reply and the metrics never read it from the message text.
     */
    final class SigningException extends Exception {

        /** Why; its label is the {@code reason} label of {@code relaybox_dkim_failures_total}. */
        public enum Reason {
            /** No key for the signing domain, or no signing domain, and the policy says refuse. */
            NO_KEY,
            /** The message itself cannot be signed (header section too large). */
            BAD_MESSAGE,
            /** Signing failed for now (a key or crypto error); the client may try again. */
            ERROR;

            public String label() {
                return name().toLowerCase(java.util.Locale.ROOT);
            }
        }

        private final Reason reason;

        public SigningException(String message, Reason reason, Throwable cause) {
            super(message, cause);
            this.reason = reason;
        }

        public Reason reason() {
            return reason;
        }

        /** 5xx (refuse) when true, 451 (try later) when false. */
        public boolean permanent() {
            return reason != Reason.ERROR;
        }
    }
}
