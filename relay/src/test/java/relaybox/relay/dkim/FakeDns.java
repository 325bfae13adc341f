package relaybox.relay.dkim;

import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A tiny authoritative DNS server on loopback UDP (port 0) for tests: answers TXT queries from a
 * map (name → records, each record a list of character-strings), NXDOMAIN otherwise. Never real DNS.
 */
final class FakeDns implements AutoCloseable {

    private final DatagramSocket socket;
    private final Map<String, List<List<String>>> txt = new ConcurrentHashMap<>();
    private final Thread thread;

    FakeDns() throws SocketException {
        socket = new DatagramSocket(0, InetAddress.getLoopbackAddress());
        thread = new Thread(this::serve, "fake-dns");
        thread.setDaemon(true);
        thread.start();
    }

    /** Publishes TXT records at {@code name}; each record is given as its strings. */
    @SafeVarargs
    final FakeDns txt(String name, List<String>... records) {
        txt.put(key(name), List.of(records));
        return this;
    }

    SimpleResolver resolver() {
        SimpleResolver r = new SimpleResolver(InetAddress.getLoopbackAddress());
        r.setPort(socket.getLocalPort());
        r.setTimeout(Duration.ofSeconds(2));
        return r;
    }

    private static String key(String name) {
        return (name.endsWith(".") ? name : name + ".").toLowerCase(java.util.Locale.ROOT);
    }

    private void serve() {
        byte[] buf = new byte[4096];
        while (!socket.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                socket.receive(p);
                Message q = new Message(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                Message a = answer(q);
                byte[] out = a.toWire();
                socket.send(new DatagramPacket(out, out.length, p.getSocketAddress()));
            } catch (IOException e) {
                if (socket.isClosed()) {
                    return;
                }
            }
        }
    }

    private Message answer(Message q) {
        Message a = new Message(q.getHeader().getID());
        a.getHeader().setFlag(Flags.QR);
        a.getHeader().setFlag(Flags.AA);
        Record question = q.getQuestion();
        a.addRecord(question, Section.QUESTION);
        Name name = question.getName();
        List<List<String>> records = txt.get(key(name.toString()));
        if (records == null) {
            a.getHeader().setRcode(Rcode.NXDOMAIN);
        } else if (question.getType() == Type.TXT) {
            for (List<String> strings : records) {
                a.addRecord(new TXTRecord(name, DClass.IN, 300, strings), Section.ANSWER);
            }
        }
        return a;
    }

    @Override
    public void close() {
        socket.close();
    }
}
