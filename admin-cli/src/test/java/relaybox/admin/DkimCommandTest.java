package relaybox.admin;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DkimCommandTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine c = new CommandLine(new DkimCommand());
        c.setOut(new PrintWriter(out));
        c.setErr(new PrintWriter(err));
        int exit = c.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void keygenThenCheckFindsTheRecordMissingThenMatching() throws Exception {
        Run kg = run("keygen", "--domain", "example.com", "--selector", "s1", "--algorithm", "ed25519",
                "--out", dir.toString());
        assertEquals(0, kg.exit, kg.err);
        assertTrue(kg.out.contains("s1._domainkey.example.com. IN TXT ( \"v=DKIM1; k=ed25519; p="), kg.out);
        String table = kg.out.substring(kg.out.indexOf("[[dkim_key]]"));
        Path conf = dir.resolve("relaybox.conf");
        Files.writeString(conf, table);
        String record = kg.out.replaceAll("(?s).*IN TXT \\( \"([^\"]+)\" \\).*", "$1");

        try (TinyDns dns = new TinyDns()) {
            Run missing = run("check", "--config", conf.toString(), "--dns-server", dns.address());
            assertEquals(1, missing.exit, missing.out + missing.err);
            assertTrue(missing.out.contains("ERROR: missing record"), missing.out);

            dns.txt.put("s1._domainkey.example.com.", record);
            dns.txt.put("example.com.", "v=spf1 include:sendgrid.net -all");
            Run ok = run("check", "--config", conf.toString(), "--dns-server", dns.address(),
                    "--upstream", "smtp.sendgrid.net");
            assertEquals(0, ok.exit, ok.out + ok.err);
            assertTrue(ok.out.contains("OK: match"), ok.out);
            assertTrue(ok.out.contains("OK: SPF: includes sendgrid.net"), ok.out);
        }
    }

    @Test
    void usageAndConfigErrorsExitWith2() throws Exception {
        assertEquals(2, run("keygen", "--domain", "example.com").exit);
        assertEquals(2, run("keygen", "--domain", "example.com", "--selector", "s", "--bits", "512",
                "--out", dir.toString()).exit);
        Run noConf = run("check", "--config", dir.resolve("absent.conf").toString());
        assertEquals(2, noConf.exit);
        assertTrue(noConf.err.contains("cannot read"), noConf.err);
        assertEquals(2, run().exit);
    }

    /** A minimal loopback DNS server answering TXT from a map, NXDOMAIN otherwise. */
    static final class TinyDns implements AutoCloseable {
        final Map<String, String> txt = new ConcurrentHashMap<>();
        final DatagramSocket socket = new DatagramSocket(0, InetAddress.getLoopbackAddress());

        TinyDns() throws Exception {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[4096];
                while (!socket.isClosed()) {
                    try {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        socket.receive(p);
                        Message q = new Message(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                        Message a = new Message(q.getHeader().getID());
                        a.getHeader().setFlag(Flags.QR);
                        Record question = q.getQuestion();
                        a.addRecord(question, Section.QUESTION);
                        String v = txt.get(question.getName().toString().toLowerCase());
                        if (v == null) {
                            a.getHeader().setRcode(Rcode.NXDOMAIN);
                        } else {
                            List<String> parts = new ArrayList<>();
                            for (int i = 0; i < v.length(); i += 255) {
                                parts.add(v.substring(i, Math.min(v.length(), i + 255)));
                            }
                            a.addRecord(new TXTRecord(question.getName(), DClass.IN, 60, parts), Section.ANSWER);
                        }
                        byte[] out = a.toWire();
                        socket.send(new DatagramPacket(out, out.length, p.getSocketAddress()));
                    } catch (Exception e) {
                        // closed, or a malformed packet: keep serving until closed
                    }
                }
            }, "tiny-dns");
            t.setDaemon(true);
            t.start();
        }

        String address() {
            return "127.0.0.1:" + socket.getLocalPort();
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
