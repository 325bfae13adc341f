package relaybox.queue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RetryScheduleTest {

    private static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");
    private static final RetrySchedule S = RetrySchedule.DEFAULT;

    @ParameterizedTest(name = "attempt {0}, draw {1} -> +{2}s")
    @CsvSource({
        // attempts, jitter draw, expected delay in seconds (min 60s, max 1800s, jitter 0.2)
        "1, 0.5, 60",
        "2, 0.5, 120",
        "3, 0.5, 240",
        "4, 0.5, 480",
        "5, 0.5, 960",
        "6, 0.5, 1800",
        "50, 0.5, 1800",
        "2147483647, 0.5, 1800",
        "1, 0.0, 48",
        "1, 1.0, 72",
        "6, 0.0, 1440",
        "6, 1.0, 2160",
        "0, 0.5, 60",
    })
    void delayDoublesUpToTheMaximumWithJitter(int attempts, double draw, long seconds) {
        assertEquals(NOW.plusSeconds(seconds), S.next(attempts, NOW, draw));
    }

    @Test
    void expiryIsExactlyAtTheLifetime() {
        Instant start = NOW.minus(Duration.ofDays(5));
        assertTrue(S.expired(start, NOW));
        assertFalse(S.expired(start.plusMillis(1), NOW));
    }

    @Test
    void invalidSchedulesAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new RetrySchedule(Duration.ZERO, Duration.ofMinutes(1), Duration.ofDays(1), 0.1));
        assertThrows(IllegalArgumentException.class,
                () -> new RetrySchedule(Duration.ofMinutes(2), Duration.ofMinutes(1), Duration.ofDays(1), 0.1));
        assertThrows(IllegalArgumentException.class,
                () -> new RetrySchedule(Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofDays(1), 0.9));
    }
}
