package relaybox.queue.bench;

import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Damages a real queue store the way a torn write or a bad sector would (16 inverted bytes at
 * evenly spaced offsets of queue.db, one trial each) and prints what opening it gives: clean,
 * some entries quarantined, refused to open, or (the outcome that must never happen) entries
 * silently missing or with wrong bytes. Not a test; its figures go into RELIABILITY notes.
 * Usage: StoreDamageProbe [entries] [trials]
 */
public final class StoreDamageProbe {
    public static void main(String[] args) throws Exception {
        int entries = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        int trials = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        Path work = Files.createTempDirectory("damage");
        Path pristine = work.resolve("pristine");
        try (MapDbQueue q = MapDbQueue.open(pristine, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            for (int i = 0; i < entries; i++) {
                Queue.Incoming in = q.receive();
                in.body().write(("message " + i).getBytes(StandardCharsets.UTF_8));
                q.accept(in, Envelope.of("a@b.example", List.of("c@d.example")), "");
            }
        }
        byte[] db = Files.readAllBytes(pristine.resolve("queue.db"));
        int used = db.length - 1;
        while (used > 0 && db[used] == 0) {
            used--;
        }
        Map<String, Integer> outcomes = new TreeMap<>();
        for (int t = 0; t < trials; t++) {
            long at = (long) used * t / trials;
            Path dir = work.resolve("t" + t);
            copy(pristine, dir);
            try (FileChannel ch = FileChannel.open(dir.resolve("queue.db"), StandardOpenOption.READ,
                    StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.allocate(16);
                ch.read(b, at);
                b.flip();
                for (int i = 0; i < b.limit(); i++) {
                    b.put(i, (byte) ~b.get(i));
                }
                ch.write(b, at);
            }
            outcomes.merge(outcome(dir, entries), 1, Integer::sum);
            delete(dir);
        }
        System.out.printf("store damage probe: %d entries, queue.db %d bytes (%d in use), %d trials%n",
                entries, db.length, used, trials);
        outcomes.forEach((k, v) -> System.out.printf("  %-60s %d%n", k, v));
        delete(work);
    }

    private static String outcome(Path dir, int entries) {
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            int quarantined = q.quarantinedAtOpen().size();
            int good = 0;
            for (QueueEntry e : q.list()) {
                try (InputStream in = q.openMessage(e.id())) {
                    String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                    if (body.startsWith("message ")) {
                        good++;
                    }
                } catch (Exception ignored) {
                    // counted as not good
                }
            }
            if (good + quarantined < entries) {
                return "SILENT LOSS (" + (entries - good - quarantined) + " entries unaccounted)";
            }
            return quarantined == 0 ? "opened, all intact" : "opened, some quarantined, rest intact";
        } catch (Exception e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            return "refused to open: " + c.getClass().getSimpleName();
        } catch (AssertionError e) {
            return "refused to open: AssertionError";
        }
    }

    private static void copy(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    private static void delete(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
