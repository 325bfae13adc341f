package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.Serializer;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Owns what the queue has quarantined and who hears of it: the raw records that did not decode
 * (MapDB's {@code quarantine} map, by key), the list of quarantines found by the open and by its
 * cross-check, and the listener the daemon logs each one through.
 */
final class Quarantines {

    /** Raw records that did not decode, by key; kept in the index so that nothing is dropped. */
    final BTreeMap<String, byte[]> raw;
    /** Quarantined by the open, and by its cross-check after an unclean stop. */
    final List<MapDbQueue.Quarantined> atOpen = new CopyOnWriteArrayList<>();
    private volatile Consumer<MapDbQueue.Quarantined> listener = q -> { };

    Quarantines(DB db) {
        this.raw = db.treeMap("quarantine", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen();
    }

    void listen(Consumer<MapDbQueue.Quarantined> l) {
        listener = l;
    }

    /** A damaged spool range the cross-check found after the open: kept with the open's, and reported. */
    void foundLater(MapDbQueue.Quarantined q) {
        atOpen.add(q);
        listener.accept(q);
    }

    /** An entry quarantined while the queue runs (its message failed its checksum). */
    void report(MapDbQueue.Quarantined q) {
        listener.accept(q);
    }
}
