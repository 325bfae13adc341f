package relaybox.relay.forward;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProbeScheduleTest {

    @ParameterizedTest(name = "interval {0}s, {1} config failures -> {2}s")
    @CsvSource({
            // a link failure: every probe interval
            "5, 0, 5",
            "30, 0, 30",
            // a configuration failure: doubling from the interval
            "5, 1, 5",
            "5, 2, 10",
            "5, 3, 20",
            "5, 4, 40",
            "5, 7, 320",
            "5, 8, 640",
            // capped at 15 minutes
            "5, 9, 900",
            "5, 1000, 900",
            "60, 5, 900",
            // an interval longer than the cap is kept
            "1200, 3, 1200",
    })
    void waitBeforeTheNextProbe(long intervalSeconds, int configFailures, long expectedSeconds) {
        assertEquals(Duration.ofSeconds(expectedSeconds),
                ProbeSchedule.next(Duration.ofSeconds(intervalSeconds), configFailures));
    }
}
