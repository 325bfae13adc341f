package relaybox.relay.forward;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Additive increase, multiplicative decrease of an upstream's sessions after throttling replies. */
class ThrottleTest {

    private static final Instant T0 = Instant.parse("2026-12-05T10:00:00Z");

    @Test
    void halvesSessionsAndDoublesTheCoolDownWhileThrottlingGoesOn() {
        Throttle t = new Throttle(8);
        assertEquals(8, t.cap(T0));
        assertEquals(Duration.ofSeconds(1), t.throttled(T0));
        assertEquals(4, t.cap(T0));
        assertEquals(Duration.ofSeconds(2), t.throttled(T0.plusMillis(500)));
        assertEquals(2, t.cap(T0.plusMillis(500)));
        assertEquals(Duration.ofSeconds(4), t.throttled(T0.plusSeconds(2)));
        assertEquals(1, t.cap(T0.plusSeconds(2)));
        assertEquals(Duration.ofSeconds(8), t.throttled(T0.plusSeconds(3)));
        assertEquals(1, t.cap(T0.plusSeconds(3)), "never below one session");
    }

    @Test
    void theCoolDownIsCappedAndStartsOverAfterAQuietSpell() {
        Throttle t = new Throttle(3);
        Instant now = T0;
        Duration last = Duration.ZERO;
        for (int i = 0; i < 12; i++) {
            last = t.throttled(now);
            now = now.plusMillis(100);
        }
        assertEquals(Throttle.MAX_COOLDOWN, last);
        assertEquals(Throttle.FIRST_COOLDOWN, t.throttled(now.plus(Throttle.MAX_COOLDOWN.multipliedBy(3))));
    }

    @Test
    void givesOneSessionBackEachQuietMinute() {
        Throttle t = new Throttle(4);
        t.throttled(T0);
        t.throttled(T0);
        assertEquals(1, t.cap(T0));
        assertEquals(1, t.cap(T0.plusSeconds(59)));
        assertEquals(2, t.cap(T0.plusSeconds(60)));
        assertEquals(3, t.cap(T0.plusSeconds(120)));
        assertEquals(4, t.cap(T0.plusSeconds(600)), "back to the configured number, never more");
    }
}
