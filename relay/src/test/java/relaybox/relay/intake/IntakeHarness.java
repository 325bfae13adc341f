package relaybox.relay.intake;

import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailLog;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;

/**
 * An intake on 127.0.0.1:0 in front of a given queue, with the mail log collected for assertions
 * ({@link TestRig#lines}); closing it stops the intake and closes the queue.
 */
final class IntakeHarness extends TestRig {

    /** The limits the dialog tests share: messages of at most 64 KiB, 100 recipients. */
    static final String DIALOG_LIMITS = "intake_max_message_size = \"64KiB\"\nintake_max_recipients = 100\n";

    final Queue queue;
    final IntakeServer server;

    IntakeHarness(Queue queue, String extraToml) throws Exception {
        this(queue, extraToml, MessageSigner.NONE);
    }

    IntakeHarness(Queue queue, String extraToml, MessageSigner signer) throws Exception {
        this(queue, extraToml, signer, "127.0.0.1");
    }

    IntakeHarness(Queue queue, String extraToml, String listenHost) throws Exception {
        this(queue, extraToml, MessageSigner.NONE, listenHost);
    }

    IntakeHarness(Queue queue, String extraToml, MessageSigner signer, String listenHost) throws Exception {
        this(queue, extraToml, signer, listenHost, "intake_command_timeout = \"20s\"\n");
    }

    IntakeHarness(Queue queue, String extraToml, MessageSigner signer, String listenHost, String timeouts)
            throws Exception {
        this.queue = queue;
        String toml = "intake_listen = [\"" + listenHost + ":0\"]\nintake_hostname = \"relay.test\"\n"
                + timeouts + (extraToml.contains("intake_data_timeout") ? "" : "intake_data_timeout = \"20s\"\n")
                + "intake_drain_timeout = \"5s\"\n"
                + extraToml;
        ConfigReader r = ConfigReader.parse("test", toml);
        IntakeConfig cfg = IntakeConfig.from(r);
        r.finish();
        server = new IntakeServer(cfg, queue, signer, new MailLog(lines::add));
        server.start();
    }

    InetSocketAddress address() {
        return server.boundAddresses().get(0);
    }

    RawSmtp connect() throws IOException {
        RawSmtp c = new RawSmtp(address());
        String greeting = c.reply();
        if (greeting == null || !greeting.startsWith("220 ")) {
            throw new IOException("bad greeting: " + greeting);
        }
        return c;
    }

    /** The message as the queue would send it (added headers + client's bytes). */
    byte[] stored(QueueEntry e) throws IOException {
        try (InputStream in = queue.openMessage(e.id())) {
            return in.readAllBytes();
        }
    }

    /** The client's bytes only, as stored in the spool. */
    byte[] clientBytes(QueueEntry e) throws IOException {
        byte[] all = stored(e);
        int skip = e.addedHeaders().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        return java.util.Arrays.copyOfRange(all, skip, all.length);
    }

    @Override
    protected void closeParts() {
        server.stop();
        queue.close();
    }
}
