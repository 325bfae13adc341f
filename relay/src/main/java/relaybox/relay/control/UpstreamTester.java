package relaybox.relay.control;

/**
 * The control service's name for {@link relaybox.relay.forward.UpstreamTester}, which the
 * forwarder owns (forward must not depend on control). Its Probe and Step are the forwarder's.
 *
 * @deprecated kept only so code written against the old place compiles during the merge of the
 *     parallel branches; use {@code relaybox.relay.forward.UpstreamTester} and delete this.
 */
@Deprecated
@FunctionalInterface
public interface UpstreamTester extends relaybox.relay.forward.UpstreamTester {
}
