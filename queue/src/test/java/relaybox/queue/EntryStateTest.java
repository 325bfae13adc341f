package relaybox.queue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The life-cycle table of {@link QueueEntry}, row for row, plus every pair the table does not
 * allow. A row's expected state {@code null} means the event must be refused.
 */
class EntryStateTest {

    private static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");
    private static final String A = "a@x.example";
    private static final String B = "b@x.example";

    private static QueueEntry in(EntryState s) {
        QueueEntry e = QueueEntry.accepted(QueueId.next(NOW), Envelope.of("s@x.example", List.of(A, B)), "", 10, NOW);
        return new QueueEntry(e.id(), s, e.envelope(), e.recipients(), "", 10, NOW, NOW, NOW, 0, "", EntryState.QUEUED);
    }

    private static UnaryOperator<QueueEntry> outcome(DeliveryOutcome a, DeliveryOutcome b) {
        return e -> e.withOutcome(Map.of(A, a, B, b), RetrySchedule.DEFAULT, NOW, 0.5);
    }

    private static final DeliveryOutcome OK = new DeliveryOutcome.Delivered("250 ok");
    private static final DeliveryOutcome LATER = new DeliveryOutcome.Deferred("451 later");
    private static final DeliveryOutcome NO = new DeliveryOutcome.Failed("550 no");

    private static Map<String, UnaryOperator<QueueEntry>> events() {
        Map<String, UnaryOperator<QueueEntry>> m = new java.util.LinkedHashMap<>();
        m.put("leased", QueueEntry::leased);
        m.put("outcome all delivered", outcome(OK, OK));
        m.put("outcome one deferred", outcome(OK, LATER));
        m.put("outcome one failed", outcome(OK, NO));
        m.put("held", QueueEntry::held);
        m.put("released", e -> e.released(NOW));
        m.put("retriedNow", e -> e.retriedNow(NOW));
        m.put("requeued", e -> e.requeued(NOW));
        m.put("recovered", e -> e.recovered(NOW));
        m.put("returned", QueueEntry::returned);
        m.put("quarantined", e -> e.quarantined("spool file missing"));
        return m;
    }

    /** The allowed rows: (from, event) → to. Everything else is illegal. */
    private static final Object[][] TABLE = {
        {EntryState.QUEUED, "leased", EntryState.SENDING},
        {EntryState.DEFERRED, "leased", EntryState.SENDING},
        {EntryState.SENDING, "outcome all delivered", EntryState.DELIVERED},
        {EntryState.SENDING, "outcome one deferred", EntryState.DEFERRED},
        {EntryState.SENDING, "outcome one failed", EntryState.FAILED},
        {EntryState.QUEUED, "held", EntryState.HELD},
        {EntryState.DEFERRED, "held", EntryState.HELD},
        {EntryState.FAILED, "held", EntryState.HELD},
        {EntryState.HELD, "released", EntryState.QUEUED},
        {EntryState.QUEUED, "retriedNow", EntryState.QUEUED},
        {EntryState.DEFERRED, "retriedNow", EntryState.DEFERRED},
        {EntryState.FAILED, "requeued", EntryState.QUEUED},
        {EntryState.SENDING, "recovered", EntryState.QUEUED},
        {EntryState.SENDING, "returned", EntryState.QUEUED},
        {EntryState.QUEUED, "quarantined", EntryState.QUARANTINED},
        {EntryState.DEFERRED, "quarantined", EntryState.QUARANTINED},
        {EntryState.HELD, "quarantined", EntryState.QUARANTINED},
        {EntryState.FAILED, "quarantined", EntryState.QUARANTINED},
        {EntryState.DELIVERED, "quarantined", EntryState.QUARANTINED},
        {EntryState.QUARANTINED, "quarantined", EntryState.QUARANTINED},
    };

    static Stream<Arguments> everyPair() {
        List<Arguments> rows = new ArrayList<>();
        for (EntryState from : EntryState.values()) {
            for (String event : events().keySet()) {
                EntryState to = null;
                for (Object[] row : TABLE) {
                    if (row[0] == from && row[1].equals(event)) {
                        to = (EntryState) row[2];
                    }
                }
                rows.add(Arguments.of(from, event, to));
            }
        }
        return rows.stream();
    }

    @ParameterizedTest(name = "{0} --{1}--> {2}")
    @MethodSource("everyPair")
    void transitionFollowsTheTable(EntryState from, String event, EntryState expected) {
        QueueEntry e = in(from);
        UnaryOperator<QueueEntry> op = events().get(event);
        if (expected == null) {
            IllegalStateException x = assertThrows(IllegalStateException.class, () -> op.apply(e));
            assertEquals(true, x.getMessage().contains(from.word()), x.getMessage());
        } else {
            assertEquals(expected, op.apply(e).state());
        }
    }

    /**
     * {@link QueueEntry.Event#from()} is what the control service selects bulk actions by, so it
     * must say exactly what the table above says: every row's "from" and nothing else.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(QueueEntry.Event.class)
    void eventFromSetsAreTheTablesFromColumn(QueueEntry.Event event) {
        String row = event == QueueEntry.Event.WITH_OUTCOME ? "outcome one deferred" : event.word();
        java.util.Set<EntryState> expected = java.util.EnumSet.noneOf(EntryState.class);
        for (Object[] r : TABLE) {
            if (r[1].equals(row)) {
                expected.add((EntryState) r[0]);
            }
        }
        assertEquals(expected, java.util.EnumSet.copyOf(event.from()));
        for (EntryState s : EntryState.values()) {
            assertEquals(expected.contains(s), event.allows(s), s.word());
        }
    }
}
