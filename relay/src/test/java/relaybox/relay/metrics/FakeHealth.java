package relaybox.relay.metrics;

import relaybox.queue.CrossCheckProgress;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A HealthSource a test steers by hand: a fake upstream going down, a store that fills up. */
final class FakeHealth implements HealthSource {
    volatile boolean intake = true;
    volatile boolean store = true;
    volatile long free = 10L << 30;
    volatile long minFree = 256L << 20;
    final Map<String, LinkState> links = new ConcurrentHashMap<>(Map.of("esp1", LinkState.UP));
    final Map<String, String> pauses = new ConcurrentHashMap<>();
    volatile CrossCheckProgress crossCheck = CrossCheckProgress.NONE;

    @Override
    public CrossCheckProgress crossCheck() {
        return crossCheck;
    }

    @Override
    public boolean intakeAccepting() {
        return intake;
    }

    @Override
    public boolean storeHealthy() {
        return store;
    }

    @Override
    public long freeSpace() {
        return free;
    }

    @Override
    public long minFreeSpace() {
        return minFree;
    }

    @Override
    public Map<String, LinkState> links() {
        return links;
    }

    @Override
    public Map<String, String> pauses() {
        return pauses;
    }
}
