package relaybox.queue;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A window's refill read outside the queue's monitor ({@link DueWindows#refillWanted},
 * {@link DueWindows#refilled}), with entries placed between the read and its answer, as the
 * forwarder's outcomes and the intake's accepts place them while the store is read. Each case
 * ends by leasing everything: the window must hand out each waiting entry once, in due order,
 * and nothing removed or held.
 */
class DueWindowsRefillTest {

    private static final Instant T = Instant.parse("2026-12-06T00:00:00Z");
    private static final int SIZE = 8;

    /** The store: waiting fresh entries by due key, as the windows read it. */
    private final TreeMap<AbstractQueue.Due, QueueEntry> store = new TreeMap<>();
    private final Map<QueueId, QueueEntry> leased = new HashMap<>();
    private final DueWindows windows = new DueWindows(SIZE, leased, (fresh, after, max) -> read(after, max));
    private int serial;

    private List<QueueEntry> read(AbstractQueue.Due after, int max) {
        List<QueueEntry> out = new ArrayList<>();
        for (QueueEntry e : (after == null ? store : store.tailMap(after, false)).values()) {
            if (out.size() == max) {
                break;
            }
            out.add(e);
        }
        return out;
    }

    /** A new entry due {@code second}s after T, stored and placed as an accept places it. */
    private QueueEntry admit(int second) {
        QueueEntry e = QueueEntry.accepted(new QueueId(String.format("0000000%05d", serial++)),
                Envelope.of("a@example.org", List.of("b@example.org")), "", 10, T.plusSeconds(second));
        store.put(AbstractQueue.Due.of(e), e);
        windows.place(null, e);
        return e;
    }

    /** Changes a stored entry as a transition does: the store first, then the windows. */
    private void change(QueueEntry old, QueueEntry next) {
        store.remove(AbstractQueue.Due.of(old));
        if (next != null && next.state() == EntryState.QUEUED) {
            store.put(AbstractQueue.Due.of(next), next);
        }
        windows.place(old, next);
    }

    /** Leases every due entry, as the dispatcher does once its windows refill. */
    private List<QueueEntry> leaseAll() {
        List<QueueEntry> out = new ArrayList<>();
        Instant far = T.plusSeconds(1_000_000);
        while (true) {
            DueWindows.Refill r = windows.refillWanted();
            if (r != null) {
                windows.refilled(r, read(r.after(), r.max()));
            }
            QueueEntry e = windows.poll(true, far);
            if (e == null) {
                return out;
            }
            leased.put(e.id(), e);
            windows.leased(e);
            out.add(e);
            store.remove(AbstractQueue.Due.of(e));
        }
    }

    /** Leases {@code n} entries from the window as it stands (no refill), into {@code into}. */
    private void leaseFromWindow(int n, List<QueueEntry> into) {
        for (int i = 0; i < n; i++) {
            QueueEntry e = windows.poll(true, T.plusSeconds(1_000_000));
            leased.put(e.id(), e);
            windows.leased(e);
            store.remove(AbstractQueue.Due.of(e));
            into.add(e);
        }
    }

    private void assertInDueOrder(List<QueueEntry> got, List<QueueEntry> expected) {
        assertEquals(expected.stream().sorted(java.util.Comparator.comparing(AbstractQueue.Due::of)).map(QueueEntry::id)
                .toList(), got.stream().map(QueueEntry::id).toList());
    }

    /** {@code n} waiting entries due at 0..n-1 s, in the store only: the windows start empty. */
    private List<QueueEntry> stored(int n) {
        List<QueueEntry> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.add(QueueEntry.accepted(new QueueId(String.format("0000000%05d", serial++)),
                    Envelope.of("a@example.org", List.of("b@example.org")), "", 10, T.plusSeconds(i)));
            store.put(AbstractQueue.Due.of(all.get(i)), all.get(i));
        }
        windows.initCounts(Map.of(EntryState.QUEUED, (long) n));
        return all;
    }

    @Test
    void anEntryRemovedOrHeldWhileTheReadWasOutIsNotHandedOut() {
        List<QueueEntry> all = stored(30);
        DueWindows.Refill r = windows.refillWanted();
        assertNotNull(r, "an empty window asks for a refill");
        List<QueueEntry> got = read(r.after(), r.max());
        // Meanwhile: one read entry is deleted, another held.
        change(got.get(2), null);
        change(got.get(4), got.get(4).held());
        assertTrue(windows.refilled(r, got));
        List<QueueEntry> leasedNow = leaseAll();
        List<QueueEntry> expected = new ArrayList<>(all);
        expected.remove(got.get(2));
        expected.remove(got.get(4));
        assertInDueOrder(leasedNow, expected);
    }

    @Test
    void anEntryAcceptedWhileTheReadWasOutIsHandedOutInItsTurn() {
        List<QueueEntry> all = stored(30);
        DueWindows.Refill r = windows.refillWanted();
        List<QueueEntry> got = read(r.after(), r.max());
        // Accepted after the read, due among the entries it returned: place() judged it by the
        // old bound (none), so only the answer's merge can let it in.
        QueueEntry late = admit(3);
        assertFalse(got.contains(late));
        windows.refilled(r, got);
        List<QueueEntry> expected = new ArrayList<>(all);
        expected.add(late);
        assertInDueOrder(leaseAll(), expected);
    }

    @Test
    void theBoundIsNotTakenFromAnEntryChangedWhileTheReadWasOut() {
        List<QueueEntry> all = stored(30);
        DueWindows.Refill r = windows.refillWanted();
        List<QueueEntry> got = read(r.after(), r.max());
        QueueEntry lastRead = got.get(got.size() - 1);
        // The last entry read is retried later meanwhile; the store's answer still has its
        // old version, and had the bound moved to its new key the entries in between (not read)
        // would be skipped.
        QueueEntry later = new QueueEntry(lastRead.id(), lastRead.state(), lastRead.envelope(), lastRead.recipients(),
                lastRead.addedHeaders(), lastRead.messageSize(), lastRead.queuedAt(), lastRead.lifeStart(),
                T.plusSeconds(1000), lastRead.attempts(), lastRead.lastReply(), lastRead.stateBeforeLease());
        change(lastRead, later);
        // The read walked its old key and then read the entry as changed: the answer's last
        // entry is due long after the keys the read covered.
        got.set(got.size() - 1, later);
        windows.refilled(r, got);
        List<QueueEntry> expected = new ArrayList<>(all);
        expected.set(all.indexOf(lastRead), later);
        assertInDueOrder(leaseAll(), expected);
    }

    @Test
    void anAnswerIsDroppedWhenTheBoundMovedWhileItWasOut() {
        List<QueueEntry> all = stored(40);
        // A first refill fills the window to its size.
        DueWindows.Refill first = windows.refillWanted();
        windows.refilled(first, read(first.after(), first.max()));
        // Lease down to under half, then ask for the next refill.
        List<QueueEntry> leasedNow = new ArrayList<>();
        leaseFromWindow(SIZE / 2 + 1, leasedNow);
        DueWindows.Refill r = windows.refillWanted();
        assertNotNull(r);
        List<QueueEntry> got = read(r.after(), r.max());
        // Meanwhile entries due early arrive until the window overflows and trims: its bound moves down.
        List<QueueEntry> early = new ArrayList<>();
        for (int i = 0; i < SIZE; i++) {
            early.add(admit(-100 + i));
        }
        // ... and the dispatcher leases some of them, so that the answer would fit.
        leaseFromWindow(SIZE / 2 + 1, leasedNow);
        assertFalse(windows.refilled(r, got), "an answer read past a bound that has since moved is dropped");
        leasedNow.addAll(leaseAll());
        List<QueueEntry> expected = new ArrayList<>(all);
        expected.addAll(early);
        assertEquals(expected.size(), leasedNow.size());
        assertEquals(new java.util.HashSet<>(expected.stream().map(QueueEntry::id).toList()),
                new java.util.HashSet<>(leasedNow.stream().map(QueueEntry::id).toList()));
    }

    @Test
    void anAnswerIsDroppedAfterAReread() {
        List<QueueEntry> all = stored(20);
        DueWindows.Refill r = windows.refillWanted();
        List<QueueEntry> got = read(r.after(), r.max());
        windows.reread();
        assertFalse(windows.refilled(r, got));
        assertInDueOrder(leaseAll(), all);
    }

    @Test
    void oneRefillIsOutAtATimeAndAFailedReadFreesTheWay() {
        stored(20);
        DueWindows.Refill r = windows.refillWanted();
        assertNotNull(r);
        assertEquals(null, windows.refillWanted(), "a second refill while one is out");
        assertFalse(windows.refilled(r, null));
        assertNotNull(windows.refillWanted(), "after a failed read the next leasing asks again");
    }
}
