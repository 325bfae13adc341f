package relaybox.relay.control;

import java.time.Duration;

/**
 * What the control API may ask of the forwarder about pauses: pause an upstream (no new sessions
 * to it; its mail waits in the queue or goes to the next upstream of its route) and resume it. The
 * daemon wires its dispatcher in; without one (offline mode) the requests are answered
 * "not available".
 */
public interface UpstreamPauses {

    /**
     * Pauses the upstream named {@code name} for {@code length} (null: until resumed).
     *
     * @param by who asked, for the log ("uid 0")
     * @return false when no upstream has that name
     */
    boolean pause(String name, Duration length, String by);

    /** Ends the pause of the upstream named {@code name}; false when no upstream has that name. */
    boolean resume(String name, String by);
}
