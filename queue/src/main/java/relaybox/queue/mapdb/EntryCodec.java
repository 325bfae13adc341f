package relaybox.queue.mapdb;

import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RecipientState;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Owns the stored form of a {@link QueueEntry}: a small versioned binary record, and a readable
 * text form of the same fields for the admin CLI.
 *
 * <p>Format version 1, big-endian: version byte; id; state; state before lease; sender;
 * recipient count, then per recipient address, status, attempts, last reply; smtputf8 and 8bit
 * flags; client; helo; auth user; added headers; message size; queued-at, life-start and
 * next-attempt in epoch milliseconds; attempts; last reply; then where the message bytes are in
 * the spool (segment number or -1 for the message's own file, offset, length). Strings are an
 * int length and UTF-8.
 * A record with another version, trailing bytes or invalid values does not decode; the queue
 * quarantines it rather than guessing. A future version 2 adds a branch in {@link #decode} and
 * keeps reading version 1.
 */
public final class EntryCodec {

    public static final int VERSION = 1;
    private static final int MAX_STRING = 16 << 20;
    private static final int MAX_RECIPIENTS = 1_000_000;

    private EntryCodec() {
    }

    /** Raised for a record that cannot be read; the message says why, for the quarantine log line. */
    public static final class DecodeException extends Exception {
        DecodeException(String message) {
            super(message);
        }
    }

    /** An entry with the spool location of its message, as one MapDB record holds them. */
    record Stored(QueueEntry entry, SpoolLocation location) { }

    /** For tests and tools that have no spool location: the message is in its own file. */
    public static byte[] encode(QueueEntry e) {
        return encode(e, SpoolLocation.file(e.messageSize() - e.addedHeaders().getBytes(StandardCharsets.UTF_8).length));
    }

    public static QueueEntry decode(byte[] record) throws DecodeException {
        return decodeStored(record).entry();
    }

    static byte[] encode(QueueEntry e, SpoolLocation loc) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256 + e.addedHeaders().length());
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            str(out, e.id().value());
            str(out, e.state().name());
            str(out, e.stateBeforeLease().name());
            Envelope env = e.envelope();
            str(out, env.sender());
            out.writeInt(e.recipients().size());
            for (RecipientState r : e.recipients()) {
                str(out, r.address());
                str(out, r.status().name());
                out.writeInt(r.attempts());
                str(out, r.lastReply());
            }
            out.writeBoolean(env.smtputf8());
            out.writeBoolean(env.eightBit());
            str(out, env.client());
            str(out, env.helo());
            str(out, env.authUser());
            str(out, e.addedHeaders());
            out.writeLong(e.messageSize());
            out.writeLong(e.queuedAt().toEpochMilli());
            out.writeLong(e.lifeStart().toEpochMilli());
            out.writeLong(e.nextAttemptAt().toEpochMilli());
            out.writeInt(e.attempts());
            str(out, e.lastReply());
            out.writeLong(loc.segment());
            out.writeLong(loc.offset());
            out.writeLong(loc.length());
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return bytes.toByteArray();
    }

    static Stored decodeStored(byte[] record) throws DecodeException {
        if (record == null || record.length == 0) {
            throw new DecodeException("empty record");
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(record))) {
            int version = in.readUnsignedByte();
            if (version != VERSION) {
                throw new DecodeException("unknown format version " + version);
            }
            QueueId id = new QueueId(str(in));
            EntryState state = EntryState.valueOf(str(in));
            EntryState before = EntryState.valueOf(str(in));
            String sender = str(in);
            int n = in.readInt();
            if (n < 1 || n > MAX_RECIPIENTS) {
                throw new DecodeException("bad recipient count " + n);
            }
            List<RecipientState> rcpts = new ArrayList<>(n);
            List<String> addresses = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                String address = str(in);
                RecipientState.Status status = RecipientState.Status.valueOf(str(in));
                rcpts.add(new RecipientState(address, status, in.readInt(), str(in)));
                addresses.add(address);
            }
            boolean utf8 = in.readBoolean();
            boolean eightBit = in.readBoolean();
            Envelope env = new Envelope(sender, addresses, utf8, eightBit, str(in), str(in), str(in));
            String added = str(in);
            long size = in.readLong();
            Instant queuedAt = Instant.ofEpochMilli(in.readLong());
            Instant lifeStart = Instant.ofEpochMilli(in.readLong());
            Instant next = Instant.ofEpochMilli(in.readLong());
            int attempts = in.readInt();
            String lastReply = str(in);
            SpoolLocation loc = new SpoolLocation(in.readLong(), in.readLong(), in.readLong());
            if (in.available() > 0) {
                throw new DecodeException(in.available() + " trailing bytes");
            }
            if (size < 0 || attempts < 0 || loc.offset() < 0 || loc.length() < 0) {
                throw new DecodeException("negative size, attempts or location");
            }
            return new Stored(new QueueEntry(id, state, env, rcpts, added, size, queuedAt, lifeStart, next, attempts,
                    lastReply, before), loc);
        } catch (EOFException e) {
            throw new DecodeException("record truncated");
        } catch (IOException | RuntimeException e) {
            throw new DecodeException("invalid record: " + e.getMessage());
        }
    }

    /** The entry as readable "key: value" lines, the form `relaybox queue show` prints. */
    public static String toText(QueueEntry e) {
        StringBuilder b = new StringBuilder();
        Envelope env = e.envelope();
        line(b, "id", e.id().value());
        line(b, "state", e.state().word());
        line(b, "from", "<" + env.sender() + ">");
        for (RecipientState r : e.recipients()) {
            line(b, "to", "<" + r.address() + "> " + r.status().name().toLowerCase(java.util.Locale.ROOT)
                    + " attempts=" + r.attempts() + (r.lastReply().isEmpty() ? "" : " reply=\"" + r.lastReply() + "\""));
        }
        line(b, "size", Long.toString(e.messageSize()));
        line(b, "queued_at", e.queuedAt().toString());
        line(b, "life_start", e.lifeStart().toString());
        line(b, "next_attempt", e.nextAttemptAt().toString());
        line(b, "attempts", Integer.toString(e.attempts()));
        line(b, "last_reply", e.lastReply());
        line(b, "smtputf8", Boolean.toString(env.smtputf8()));
        line(b, "8bitmime", Boolean.toString(env.eightBit()));
        line(b, "client", env.client());
        line(b, "helo", env.helo());
        line(b, "auth_user", env.authUser());
        line(b, "format_version", Integer.toString(VERSION));
        return b.toString();
    }

    private static void line(StringBuilder b, String k, String v) {
        b.append(k).append(": ").append(v).append('\n');
    }

    private static void str(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String str(DataInputStream in) throws IOException, DecodeException {
        int len = in.readInt();
        if (len < 0 || len > MAX_STRING) {
            throw new DecodeException("bad string length " + len);
        }
        byte[] b = in.readNBytes(len);
        if (b.length < len) {
            throw new DecodeException("record truncated");
        }
        return new String(b, StandardCharsets.UTF_8);
    }
}
