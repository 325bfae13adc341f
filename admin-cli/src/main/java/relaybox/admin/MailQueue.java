package relaybox.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code mailq} ({@code sendmail -bp}): the daemon's queue list, then the messages sendmail
 * wrote into the drop directory that the daemon has not taken in yet (it is down, or has not
 * got to them). Only root and the
 * relaybox group may list the drop directory (mode 3733); anyone else is told so.
 */
final class MailQueue {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("EEE MMM d HH:mm:ss", Locale.ROOT);

    private MailQueue() {
    }

    static int show(SendmailOptions o, InputStream stdin, PrintStream stdout, PrintStream stderr,
                    Map<String, String> env, Path defaultConfig) {
        // The daemon's control socket is the one in sendmail's --config (-C), as the drop directory is.
        String[] list = o.config == null ? new String[] {"queue", "list"}
                : new String[] {"queue", "list", "--config", o.config.toString()};
        int rc = Main.run(list, new Cli(stdin, stdout, stderr, env, defaultConfig));
        Path dir = SendmailConfig.dropDir(o, env, defaultConfig);
        if (!Files.isDirectory(dir)) {
            return rc;
        }
        List<String> lines = new ArrayList<>();
        try {
            list(dir, lines);
            list(dir.resolve(".taken"), lines);
        } catch (AccessDeniedException e) {
            if (rc != 0) {
                stdout.println("-- drop directory " + dir + ": mail sendmail wrote there and the daemon has not queued yet"
                        + " is not shown (only root and group relaybox may list it)");
            }
            return rc;
        } catch (IOException e) {
            stderr.println("relaybox sendmail: cannot list " + dir + ": " + e.getMessage());
            return rc;
        }
        if (!lines.isEmpty()) {
            stdout.println("-- " + lines.size() + " message" + (lines.size() == 1 ? "" : "s")
                    + " written by sendmail to the drop directory, not yet queued by the daemon (" + dir + "):");
            lines.forEach(stdout::println);
            return rc == 3 ? 0 : rc;
        }
        return rc;
    }

    private static void list(Path dir, List<String> out) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "m.*")) {
            s.forEach(files::add);
        }
        files.sort(null);
        for (Path p : files) {
            try {
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                out.add(String.format("%-40s %9d %s  %s", p.getFileName(), a.size(),
                        TIME.format(a.lastModifiedTime().toInstant().atZone(ZoneId.systemDefault())), a.owner().getName()));
            } catch (IOException e) {
                // Taken in meanwhile.
            }
        }
    }
}
