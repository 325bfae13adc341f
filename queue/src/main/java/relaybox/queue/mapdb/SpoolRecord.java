package relaybox.queue.mapdb;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Owns the byte layout of a spool record, the unit every segment is made of; it does no I/O.
 *
 * <p>A record is a 12-byte header, magic(4) | payload length(4) | CRC-32C of the payload(4), then
 * the payload, whose first 4 bytes are the length of the entry or id that follows. Kinds:
 * <ul>
 * <li>{@link Kind#ACCEPT} "RBX1": entry length | entry ({@link EntryCodec}, with its location) |
 *     the message bytes of a small message, or the CRC-32C of a large message's own file.</li>
 * <li>{@link Kind#DEAD} "RBXD": an ACCEPT record whose entry was removed (delivered or
 *     deleted). Only the magic is overwritten, in place, so payload and CRC stay valid and a scan
 *     steps over it; an index rebuilt from the spool then never queues delivered mail again.</li>
 * <li>{@link Kind#UPDATE} "RBXU": entry length | entry, the entry's state after an outcome or an
 *     admin action (journal).</li>
 * <li>{@link Kind#REMOVE} "RBXR": id length | queue id in UTF-8: the entry was delivered or
 *     deleted (journal).</li>
 * </ul>
 * Spools written before the journal hold only ACCEPT records and open unchanged.
 */
final class SpoolRecord {

    static final int HEADER = 12;
    /** The largest payload a scan believes: a small message plus a generous entry. */
    static final int MAX_PAYLOAD = Spool.SMALL + (32 << 20);

    /** What a record says; the magic is its first four bytes. */
    enum Kind {
        ACCEPT(0x52425831), DEAD(0x52425844), UPDATE(0x52425855), REMOVE(0x52425852);

        final int magic;

        Kind(int magic) {
            this.magic = magic;
        }

        /** The kind with this magic, or null for bytes that do not start a record. */
        static Kind of(int magic) {
            for (Kind k : values()) {
                if (k.magic == magic) {
                    return k;
                }
            }
            return null;
        }
    }

    private SpoolRecord() {
    }

    /** The CRC-32C of {@code length} bytes of {@code b} from {@code off}. */
    static int crc(byte[] b, int off, int length) {
        CRC32C c = new CRC32C();
        c.update(b, off, length);
        return (int) c.getValue();
    }

    /**
     * Writes a whole record into {@code out} (which must have room): header, then the inner
     * length of {@code first}, {@code first}, then {@code rest} (may be null).
     */
    static void put(ByteBuffer out, Kind kind, byte[] first, byte[] rest, int restLength) {
        int payload = 4 + first.length + (rest == null ? 0 : restLength);
        CRC32C c = new CRC32C();
        c.update(ByteBuffer.allocate(4).putInt(0, first.length));
        c.update(first);
        if (rest != null) {
            c.update(rest, 0, restLength);
        }
        out.putInt(kind.magic).putInt(payload).putInt((int) c.getValue()).putInt(first.length).put(first);
        if (rest != null) {
            out.put(rest, 0, restLength);
        }
    }

    static int size(byte[] first, int restLength) {
        return HEADER + 4 + first.length + restLength;
    }

    /** The payload of a REMOVE record's id. */
    static byte[] id(String queueId) {
        return queueId.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Whether {@code payload} (with its header's values) is a whole, intact record: the inner
     * length fits and the CRC matches.
     */
    static boolean intact(byte[] payload, int crc) {
        if (payload.length < 4) {
            return false;
        }
        int inner = ByteBuffer.wrap(payload).getInt(0);
        return inner >= 0 && inner <= payload.length - 4 && crc(payload, 0, payload.length) == crc;
    }

    /** The bytes after the inner length: the entry of an ACCEPT or UPDATE, the id of a REMOVE. */
    static byte[] inner(byte[] payload) {
        int inner = ByteBuffer.wrap(payload).getInt(0);
        return java.util.Arrays.copyOfRange(payload, 4, 4 + inner);
    }
}
