package relaybox.relay.dkim;

import relaybox.relay.config.DkimConfig;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/** Shared test material: keys (generated once per JVM), a signer factory and chunked feeding. */
final class DkimFixtures {

    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-22T12:00:00Z"), ZoneOffset.UTC);
    private static KeyPair rsa;
    private static KeyPair ed;
    private static KeyPair idnRsa;

    private DkimFixtures() {
    }

    static synchronized KeyPair rsa() {
        if (rsa == null) {
            rsa = generate("RSA", 2048);
        }
        return rsa;
    }

    static synchronized KeyPair ed25519() {
        if (ed == null) {
            ed = generate("Ed25519", 0);
        }
        return ed;
    }

    static synchronized KeyPair idnRsa() {
        if (idnRsa == null) {
            idnRsa = generate("RSA", 1024);
        }
        return idnRsa;
    }

    static KeyPair generate(String alg, int bits) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
            if (bits > 0) {
                g.initialize(bits);
            }
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static DkimKey key(String domain, String selector, KeyPair pair) {
        return new DkimKey(domain, selector, DkimAlgorithm.of(pair.getPrivate()), pair.getPrivate(),
                pair.getPublic(), Path.of("/nonexistent"), true);
    }

    /** example.com dual-signed (rsa "r1", ed25519 "e1"); xn--bcher-kva.example rsa "idn". */
    static DkimKeys keys() {
        return new DkimKeys(List.of(key("example.com", "r1", rsa()), key("example.com", "e1", ed25519()),
                key("xn--bcher-kva.example", "idn", idnRsa())));
    }

    static DkimConfig config(Canonicalization header, Canonicalization body) {
        return new DkimConfig(header.tag(), body.tag(), DkimConfig.DEFAULT_HEADERS, DkimConfig.DEFAULT_OVERSIGN, Duration.ZERO,
                DkimConfig.KeyBy.FROM, false, DkimConfig.NoKey.SEND_UNSIGNED, List.of());
    }

    static DkimSigner signer(Canonicalization header, Canonicalization body) {
        return new DkimSigner(config(header, body), keys(), CLOCK);
    }

    /** Key records as a verifier would find them in DNS. */
    static Map<String, String> dns(DkimKeys keys) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (DkimKey k : keys.all()) {
            m.put(k.dnsName(), k.txtRecord());
        }
        return m;
    }

    static DkimVerifier verifier() {
        Map<String, String> dns = dns(keys());
        return new DkimVerifier(n -> Optional.ofNullable(dns.get(n)));
    }

    /** Feeds {@code message} in random chunk sizes (seeded) and returns signatures + added + message. */
    static byte[] sign(MessageSigner signer, byte[] message, String added, long seed)
            throws MessageSigner.SigningException {
        MessageSigner.Signing s = signer.begin(null);
        Random r = new Random(seed);
        int i = 0;
        while (i < message.length) {
            int n = Math.min(message.length - i, 1 + r.nextInt(r.nextBoolean() ? 8 : 5000));
            s.update(message, i, n);
            i += n;
        }
        String sig = s.finish(added);
        byte[] head = (sig + added).getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[head.length + message.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(message, 0, out, head.length, message.length);
        return out;
    }

    static byte[] crlf(String text) {
        return text.replace("\r\n", "\n").replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    }

    static void writeKeysFile(Path file, DkimKeys keys) throws IOException {
        List<String> lines = new ArrayList<>();
        dns(keys).forEach((n, r) -> lines.add(n + " " + r));
        Files.write(file, lines);
    }
}
