package relaybox.queue;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * Owns how far the queue's background cross-check after an unclean stop has got, as one
 * immutable reading for {@code relaybox status}, the metrics and {@code /healthz}. While a check
 * runs mail flows, but no spool segment is compacted or deleted, so an operator wants to see it
 * run and end. Each change of the check makes a new reading; readers never see one half made.
 *
 * @param phase             where the check is (NONE: the last stop was clean, nothing to check)
 * @param segmentsScanned   spool segments the rescue phase has read from their start
 * @param segments          spool segments present at the open: what the rescue phase reads
 * @param entriesAudited    index entries the audit phase has walked so far
 * @param entriesRescued    acknowledged entries the index had lost, queued again from the spool
 * @param repairs           index repairs: keys put back, stray keys taken out, and (at the end)
 *                          state counts and segment reference counts corrected
 * @param rangesQuarantined damaged spool ranges the rescue phase found and quarantined
 * @param startedAt         when the check started; null in phase NONE
 * @param finishedAt        when it ended (DONE or FAILED); null before
 * @param failure           why it failed, for people (decisions use {@link #phase}); "" otherwise
 */
public record CrossCheckProgress(Phase phase, int segmentsScanned, int segments, long entriesAudited,
                                 long entriesRescued, long repairs, long rangesQuarantined, Instant startedAt,
                                 Instant finishedAt, String failure) {

    public enum Phase {
        /** No check at this open: the last stop was clean (or the open walked every entry itself). */
        NONE,
        /** Reading the spool segments for acknowledged entries the index lost, and queuing them again. */
        RESCUE,
        /** Walking the index a step at a time: keys put back or taken out, counts recounted. */
        AUDIT,
        /** Ran to its end: spool segments go as their entries do again. */
        DONE,
        /** Stopped by an error: spool segments are kept until the next start, which checks again. */
        FAILED;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public static final CrossCheckProgress NONE = new CrossCheckProgress(Phase.NONE, 0, 0, 0, 0, 0, 0, null, null, "");

    public CrossCheckProgress {
        failure = failure == null ? "" : failure;
    }

    /** A check of {@code segments} spool segments started at {@code at}: the rescue phase. */
    public static CrossCheckProgress started(int segments, Instant at) {
        return new CrossCheckProgress(Phase.RESCUE, 0, segments, 0, 0, 0, 0, at, null, "");
    }

    /** While it runs: rescue or audit. */
    public boolean running() {
        return phase == Phase.RESCUE || phase == Phase.AUDIT;
    }

    /** From the start to the end, or to {@code now} while it runs; zero when none ran. */
    public Duration elapsed(Instant now) {
        if (startedAt == null) {
            return Duration.ZERO;
        }
        Duration d = Duration.between(startedAt, finishedAt != null ? finishedAt : now);
        return d.isNegative() ? Duration.ZERO : d;
    }

    public CrossCheckProgress scanned(int n) {
        return new CrossCheckProgress(phase, n, segments, entriesAudited, entriesRescued, repairs, rangesQuarantined,
                startedAt, finishedAt, failure);
    }

    public CrossCheckProgress rescued(long n, long ranges) {
        return new CrossCheckProgress(phase, segmentsScanned, segments, entriesAudited, n, repairs, ranges, startedAt,
                finishedAt, failure);
    }

    /** The rescue phase is over: every segment read. */
    public CrossCheckProgress auditing() {
        return new CrossCheckProgress(Phase.AUDIT, segments, segments, entriesAudited, entriesRescued, repairs,
                rangesQuarantined, startedAt, finishedAt, failure);
    }

    public CrossCheckProgress audited(long entries, long repaired) {
        return new CrossCheckProgress(phase, segmentsScanned, segments, entries, entriesRescued, repaired,
                rangesQuarantined, startedAt, finishedAt, failure);
    }

    public CrossCheckProgress done(long repaired, Instant at) {
        return new CrossCheckProgress(Phase.DONE, segmentsScanned, segments, entriesAudited, entriesRescued, repaired,
                rangesQuarantined, startedAt, at, "");
    }

    public CrossCheckProgress failed(String why, Instant at) {
        return new CrossCheckProgress(Phase.FAILED, segmentsScanned, segments, entriesAudited, entriesRescued, repairs,
                rangesQuarantined, startedAt, at, why);
    }
}
