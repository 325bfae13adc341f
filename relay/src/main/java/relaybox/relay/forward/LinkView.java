package relaybox.relay.forward;

import java.time.Instant;

/**
 * One upstream link as the dispatcher sees it now, for status, queue list and health.
 *
 * @param name           the upstream's name
 * @param up             the circuit is closed: the upstream takes mail
 * @param since          when the circuit last opened or closed (EPOCH: never changed since start)
 * @param reason         why it is down: the connection or TLS error, or the upstream's literal reply; "" when up
 * @param configFailures configuration-class failures in a row (AUTH, certificate, STARTTLS); over 0
 *                       means the probes back off ({@link ProbeSchedule})
 * @param nextProbe      when it is probed next; null when up
 * @param pause          the pause in force, or null: while paused no mail goes there
 */
public record LinkView(String name, boolean up, Instant since, String reason, int configFailures, Instant nextProbe,
                       Pause pause) {

    public boolean backingOff() {
        return !up && configFailures > 0;
    }
}
