package relaybox.relay.intake;

import io.netty.buffer.ByteBuf;
import relaybox.queue.Queue;
import relaybox.relay.dkim.MessageSigner;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One mail transaction of a session, from MAIL to the end of the message: the envelope as it
 * grows, and the message as it streams into the queue's spool ({@link Queue.Incoming#body()}),
 * the DKIM signer and the header scanner, byte for byte, never held whole in memory.
 *
 * <p>It owns the spool reservation made at MAIL: every way a transaction ends that is not an
 * accept (RSET, a new EHLO, STARTTLS, a refused message, a disconnect) goes through
 * {@link #abort()}, which discards it, so no spool file is left behind.
 *
 * <p>Thread safety: used by one session's worker thread only.
 */
final class Transaction {

    final String sender;
    final boolean smtputf8;
    final boolean eightBit;
    final List<String> recipients = new ArrayList<>();
    final Queue.Incoming incoming;
    private final Runnable onEnd;

    private MessageSigner.Signing signing;
    private HeaderScanner headers;
    /** Qualifies bare names in From/To/Cc before the signer, scanner and spool; null when off. */
    private relaybox.relay.local.HeaderQualifier qualifier;
    /** Rewrites From: to the verified identity before the signer, scanner and spool; null when off. */
    private relaybox.relay.local.FromRewriter fromRewriter;
    /** Where the client's bytes go first: the qualifier, the From rewriter or {@link #store}. */
    private relaybox.relay.local.HeaderQualifier.Sink first;
    /** The largest message the sender's upstreams take (their SIZE). */
    private UpstreamFacts.Limit upstreamLimit = UpstreamFacts.Limit.NONE;
    /** Bytes stored (after the rewriters): what the upstream is sent, less our added lines. */
    private long stored;
    private long maxSize;
    private long size;
    private boolean tooBig;
    private IOException writeFailure;
    private boolean ended;
    private HeaderMemory headerMemory;
    /** Bytes of {@link #headerMemory} this transaction holds. */
    private long reserved;
    private boolean outOfHeaderMemory;

    /**
     * Where message bytes are copied out of Netty's direct buffers for the signer, the header
     * scanner and the spool, none of which keeps the array. One per event loop thread, not one per
     * message: a 64 KiB array per message was 69% of the daemon's allocation at full intake.
     */
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[IntakeFramer.CHUNK]);

    Transaction(String sender, boolean smtputf8, boolean eightBit, Queue.Incoming incoming, Runnable onEnd) {
        this.sender = sender;
        this.smtputf8 = smtputf8;
        this.eightBit = eightBit;
        this.incoming = incoming;
        this.onEnd = onEnd;
    }

    /** DATA was accepted: message bytes follow. */
    void beginData(MessageSigner.Signing signing, long maxSize) {
        beginData(signing, maxSize, "", null);
    }

    /**
     * As above; {@code localDomain} (not empty) qualifies bare names in From:, To: and Cc:, and
     * what the header section holds is counted in {@code budget} (null: not counted).
     */
    void beginData(MessageSigner.Signing signing, long maxSize, String localDomain, HeaderMemory budget) {
        beginData(signing, maxSize, localDomain, budget, UpstreamFacts.Limit.NONE, "");
    }

    /**
     * As above; the message is also held to {@code upstreamLimit} (the largest its upstreams
     * take), and From: is rewritten to {@code fromRewrite} ("" for none).
     */
    void beginData(MessageSigner.Signing signing, long maxSize, String localDomain, HeaderMemory budget,
                   UpstreamFacts.Limit upstreamLimit, String fromRewrite) {
        this.signing = signing;
        this.headers = new HeaderScanner();
        this.upstreamLimit = upstreamLimit;
        this.maxSize = Math.min(maxSize, upstreamLimit.bytes());
        this.headerMemory = budget;
        this.fromRewriter = fromRewrite.isEmpty() ? null : new relaybox.relay.local.FromRewriter(fromRewrite, this::store);
        relaybox.relay.local.HeaderQualifier.Sink next = fromRewriter == null ? this::store : fromRewriter::write;
        this.qualifier = localDomain.isEmpty() ? null : new relaybox.relay.local.HeaderQualifier(localDomain, next);
        this.first = qualifier != null ? qualifier::write : next;
    }

    /** The largest message the sender's upstreams take ({@link UpstreamFacts.Limit#NONE}: no limit known). */
    UpstreamFacts.Limit upstreamLimit() {
        return upstreamLimit;
    }

    /** Bytes stored so far (the message as it will be sent, without our added header lines). */
    long stored() {
        return stored;
    }

    boolean inData() {
        return signing != null;
    }

    /** The next message bytes. Past the size limit they are counted and dropped. */
    void write(ByteBuf bytes) {
        int n = bytes.readableBytes();
        size += n;
        if (size > maxSize) {
            tooBig = true;
            return;
        }
        if (writeFailure != null || outOfHeaderMemory) {
            return;
        }
        byte[] buf = SCRATCH.get();
        while (bytes.isReadable()) {
            int k = Math.min(bytes.readableBytes(), buf.length);
            bytes.readBytes(buf, 0, k);
            first.write(buf, 0, k);
            if (writeFailure != null || outOfHeaderMemory) {
                return;
            }
        }
    }

    /** Message bytes as they are to be sent: to the signer, the header scanner and the spool. */
    private void store(byte[] buf, int off, int k) {
        if (writeFailure != null || outOfHeaderMemory) {
            return;
        }
        stored += k;
        signing.update(buf, off, k);
        headers.update(buf, off, k);
        if (!holdHeaderMemory()) {
            return;
        }
        try {
            incoming.body().write(buf, off, k);
        } catch (IOException e) {
            // Reported at the end of the message (451); the bytes that follow are read and dropped.
            writeFailure = e;
        }
    }

    /**
     * Reserves what the signer and the scanner hold now. Counted after they grew, so a loop may
     * hold up to one growth (at most 512 KiB) beyond the budget for a moment; when the budget is
     * used up, the signing is dropped at once (its memory with it) and the message will get 452.
     */
    private boolean holdHeaderMemory() {
        long held = signing.heldBytes() + headers.heldBytes();
        if (held > reserved) {
            if (headerMemory == null || headerMemory.reserve(held - reserved)) {
                reserved = held;
            } else {
                outOfHeaderMemory = true;
                signing = MessageSigner.NONE.begin("");
                headers = new HeaderScanner();
                releaseHeaderMemory();
                return false;
            }
        }
        return true;
    }

    private void releaseHeaderMemory() {
        if (headerMemory != null && reserved > 0) {
            headerMemory.release(reserved);
        }
        reserved = 0;
    }

    /** The header-memory budget was used up while this message arrived: it gets 452 4.3.1. */
    boolean outOfHeaderMemory() {
        return outOfHeaderMemory;
    }

    long size() {
        return size;
    }

    boolean tooBig() {
        return tooBig;
    }

    IOException writeFailure() {
        return writeFailure;
    }

    /** The final dot arrived: passes on what the header qualifier still holds. Idempotent. */
    void endData() {
        if (qualifier != null) {
            qualifier.finish();
            qualifier = null;
        }
        if (fromRewriter != null) {
            fromRewriter.finish();
            fromRewriter = null;
        }
    }

    HeaderScanner headers() {
        endData();
        headers.finish();
        return headers;
    }

    MessageSigner.Signing signing() {
        return signing;
    }

    /** Gives up the spool reservation (the message is refused); the transaction ends with {@link #abort()}. */
    void discardSpool() {
        incoming.discard();
    }

    /**
     * Ends the transaction: discards the spool reservation unless the message was accepted (then
     * discard does nothing). Called after the reply to the final dot was written, so a stopping
     * daemon that waits for open transactions never closes a connection before its reply.
     * Idempotent.
     */
    void abort() {
        if (!ended) {
            ended = true;
            releaseHeaderMemory();
            incoming.discard();
            onEnd.run();
        }
    }
}
