package relaybox.queue;

import java.util.Objects;

/**
 * One recipient's delivery status within an entry.
 *
 * @param address   forward-path without angle brackets
 * @param status    pending, delivered or failed; delivered and failed are final
 * @param attempts  how many delivery attempts included this recipient
 * @param lastReply the upstream's literal last reply for this recipient, or "" before any attempt
 */
public record RecipientState(String address, Status status, int attempts, String lastReply) {

    public enum Status { PENDING, DELIVERED, FAILED }

    public RecipientState {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(lastReply, "lastReply");
    }

    public static RecipientState pending(String address) {
        return new RecipientState(address, Status.PENDING, 0, "");
    }

    public boolean isPending() {
        return status == Status.PENDING;
    }
}
