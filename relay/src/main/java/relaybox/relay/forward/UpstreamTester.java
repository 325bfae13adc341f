package relaybox.relay.forward;

import java.util.List;

/**
 * Runs {@code relaybox upstream test}: for each configured upstream, connect, read the greeting,
 * EHLO, STARTTLS, verify the certificate, AUTH, and report each step, without sending mail. The
 * forwarder owns it and implements it ({@link UpstreamProbe}: it owns the upstream client); the
 * control service only calls it, so control depends on forward and never the other way.
 * A call may take as long as the connect and TLS timeouts allow.
 */
public interface UpstreamTester {

    List<Probe> probeAll() throws InterruptedException;

    /** One upstream's steps in the order they ran; the first failed step is the last one. */
    record Probe(String upstream, List<Step> steps) {
        public boolean ok() {
            return steps.stream().allMatch(Step::ok);
        }
    }

    /**
     * @param name   "connect", "greeting", "ehlo", "starttls", "certificate", "auth", "quit"
     * @param ok     whether the step succeeded
     * @param detail what happened: the peer's reply, the certificate subject, the error
     * @param millis how long the step took
     */
    record Step(String name, boolean ok, String detail, long millis) { }
}
