package relaybox.queue.mapdb;

import relaybox.queue.QueueException;
import relaybox.queue.QueueId;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;

/**
 * Owns the spool directory: one file per message, named by queue id, holding the client's bytes
 * exactly as received. Files are written once, fsynced by the writer before the entry's record is
 * committed, and deleted only after the record's removal is committed. Does not know about
 * entries or states.
 */
final class Spool {

    private static final int BUFFER = 64 << 10;

    private final Path dir;
    private final FileStore store;

    Spool(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.store = Files.getFileStore(dir);
    }

    Path file(QueueId id) {
        return dir.resolve(id.value());
    }

    long usableSpace() throws IOException {
        return store.getUsableSpace();
    }

    /** A new, empty spool file for {@code id}, open for writing. */
    Writer create(QueueId id) throws IOException {
        FileChannel ch = FileChannel.open(file(id), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new Writer(id, ch);
    }

    InputStream open(QueueId id) throws IOException {
        return Files.newInputStream(file(id));
    }

    /** Size of a spool file, or -1 when it does not exist. */
    long size(QueueId id) throws IOException {
        try {
            return Files.size(file(id));
        } catch (NoSuchFileException e) {
            return -1;
        }
    }

    void delete(QueueId id) throws IOException {
        Files.deleteIfExists(file(id));
    }

    /** Makes new and deleted directory entries durable: one fsync covers every file in a batch. */
    void syncDirectory() throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** Names in the spool directory, for orphan clean-up at open. */
    Set<String> names() throws IOException {
        Set<String> out = new HashSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                out.add(p.getFileName().toString());
            }
        }
        return out;
    }

    Path dir() {
        return dir;
    }

    /** One message being written. */
    final class Writer {
        final QueueId id;
        private final FileChannel channel;
        final OutputStream out;
        private boolean closed;

        private Writer(QueueId id, FileChannel channel) {
            this.id = id;
            this.channel = channel;
            // The intake must not close the stream (the interface says so), so closing the
            // channel stays ours: a wrapper that ignores close() protects against a stray one.
            this.out = new BufferedOutputStream(new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    channel.write(java.nio.ByteBuffer.wrap(b, off, len));
                }
            }, BUFFER) {
                @Override
                public void close() throws IOException {
                    flush();
                }
            };
        }

        /** Flushes and fsyncs the bytes; returns the file size. */
        long sync() throws IOException {
            out.flush();
            channel.force(false);
            long size = channel.size();
            close();
            return size;
        }

        void close() throws IOException {
            if (!closed) {
                closed = true;
                channel.close();
            }
        }

        void discard() {
            try {
                close();
            } catch (IOException ignored) {
                // Deleting below is what matters.
            }
            try {
                delete(id);
            } catch (IOException ignored) {
                // Left behind, it is an orphan and removed at the next open.
            }
        }
    }
}
