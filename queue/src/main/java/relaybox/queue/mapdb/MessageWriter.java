package relaybox.queue.mapdb;

import relaybox.queue.QueueId;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Owns one message being written: bytes collect in memory up to {@link Spool#SMALL}, then spill
 * to the message's own file, whose CRC-32C it computes as the bytes go by (the ACCEPT record
 * carries it, so a send can check the file). It does not append records. The stream ignores
 * close(), so a stray close cannot end the message.
 */
final class MessageWriter {
    final QueueId id;
    private final Spool spool;
    private final Path path;
    private final Buffer small = new Buffer();
    private final CRC32C crc = new CRC32C();
    private FileChannel file;
    private OutputStream fileOut;
    private long written;
    private boolean finished;
    final OutputStream out = new OutputStream() {
        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (finished) {
                throw new IOException("message " + id + " is already finished");
            }
            if (file == null && small.size() + len > Spool.SMALL) {
                spill();
            }
            if (file == null) {
                small.write(b, off, len);
            } else {
                fileOut.write(b, off, len);
                crc.update(b, off, len);
            }
            written += len;
        }

        @Override
        public void flush() throws IOException {
            if (fileOut != null) {
                fileOut.flush();
            }
        }
    };

    MessageWriter(QueueId id, Spool spool, Path path) {
        this.id = id;
        this.spool = spool;
        this.path = path;
    }

    private void spill() throws IOException {
        file = PrivateFiles.createNew(path, StandardOpenOption.WRITE);
        fileOut = new java.io.BufferedOutputStream(Channels.newOutputStream(file), 64 << 10);
        small.writeTo(fileOut);
        crc.update(small.bytes(), 0, small.size());
        small.reset();
    }

    /**
     * Ends the message. A large message's file is fsynced here (on the queue's large-accept pool,
     * off the event loops) and its location returned, with the file's CRC-32C; a small one stays
     * in memory ({@link #smallBytes}) for the caller to append with its entry record, and null is
     * returned.
     */
    SpoolLocation finish() throws IOException {
        finished = true;
        if (file == null) {
            return null;
        }
        fileOut.flush();
        file.force(false);
        file.close();
        spool.fileCreated();
        return SpoolLocation.file(written, (int) crc.getValue());
    }

    /** True once the message outgrew memory and is being written to its own file. */
    boolean spilled() {
        return file != null;
    }

    byte[] smallBytes() {
        return small.bytes();
    }

    int smallSize() {
        return small.size();
    }

    /** Forgets an unfinished message; or gives back the location of one whose commit failed. */
    void discard(SpoolLocation loc) {
        finished = true;
        try {
            if (file != null) {
                file.close();
            }
            if (loc != null) {
                spool.release(id, loc);
            } else if (file != null) {
                Files.deleteIfExists(path);
            }
        } catch (IOException ignored) {
            // Whatever is left is unreferenced and removed at the next open.
        }
    }

    /** A ByteArrayOutputStream whose array can be appended without a copy. */
    private static final class Buffer extends ByteArrayOutputStream {
        Buffer() {
            super(8192);
        }

        byte[] bytes() {
            return buf;
        }
    }
}
