package relaybox.relay.dkim;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every corpus message, dual-signed in all four canonicalisation modes with random chunking, must
 * verify with dkimpy ({@code python3-dkim}, both signatures) and Mail::DKIM
 * ({@code libmail-dkim-perl}: the RSA signature; Debian 12's 1.20230212 does not know
 * ed25519-sha256 and says so), given the public keys without DNS; tampered copies must fail with
 * both. Needs the Debian packages python3-dkim, python3-nacl and libmail-dkim-perl (.ci/run
 * installs them).
 */
class IndependentVerifiersTest {

    static final String PYTHON = "/usr/bin/python3";
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path dir;
    static Path keysFile;
    static final List<Path> signed = new ArrayList<>();
    static final List<Path> tampered = new ArrayList<>();

    @BeforeAll
    static void signCorpus() throws Exception {
        keysFile = dir.resolve("keys.txt");
        DkimFixtures.writeKeysFile(keysFile, DkimFixtures.keys());
        long seed = 1;
        for (Canonicalization hc : Canonicalization.values()) {
            for (Canonicalization bc : Canonicalization.values()) {
                DkimSigner signer = DkimFixtures.signer(hc, bc);
                for (Map.Entry<String, byte[]> e : DkimCorpus.messages().entrySet()) {
                    String added = seed % 2 == 0 ? "" : "Received: from app1 (localhost [127.0.0.1])\r\n"
                            + "\tby relay.example.com with ESMTP id 7QH3K9M2XC4T; Sun, 22 Nov 2026 12:00:00 +0000\r\n";
                    byte[] out = DkimFixtures.sign(signer, e.getValue(), added, seed++);
                    String name = e.getKey() + "-" + hc.tag() + "-" + bc.tag();
                    Path p = dir.resolve(name + ".eml");
                    Files.write(p, out);
                    signed.add(p);
                    for (Map.Entry<String, byte[]> t : tamper(out).entrySet()) {
                        Path tp = dir.resolve(name + "-tampered-" + t.getKey() + ".eml");
                        Files.write(tp, t.getValue());
                        tampered.add(tp);
                    }
                }
            }
        }
    }

    /** Copies that a verifier must reject: body changed, a signed header changed, a From added. */
    static Map<String, byte[]> tamper(byte[] signedMessage) {
        String s = new String(signedMessage, StandardCharsets.ISO_8859_1);
        int sep = s.indexOf("\r\n\r\n");
        String head = sep < 0 ? s : s.substring(0, sep + 2);
        String body = sep < 0 ? "" : s.substring(sep + 2);
        Map<String, byte[]> out = new java.util.LinkedHashMap<>();
        out.put("body", (head + body + "\r\nAppended line.\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.put("subject", (head.replaceFirst("(?m)^Subject:", "Subject: [changed]") + body)
                .getBytes(StandardCharsets.ISO_8859_1));
        out.put("second-from", (head + "From: Mallory <m@evil.example>\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));
        return out;
    }

    @Test
    void dkimpyVerifiesEverySignature() throws Exception {
        Run r = run(List.of(PYTHON, script("verify.py")), signed);
        assertEquals(0, r.exit, "dkimpy output:\n" + r.output);
        assertEquals(2 * signed.size() - countIdn(), count(r.output, "pass "), r.output);
    }

    @Test
    void mailDkimVerifiesEveryRsaSignature() throws Exception {
        Run r = run(List.of("perl", script("verify.pl")), signed);
        assertEquals(0, r.exit, "Mail::DKIM output:\n" + r.output);
        assertEquals(signed.size(), count(r.output, "pass "), r.output);
    }

    @Test
    void dkimpyRejectsEveryTamperedCopy() throws Exception {
        for (String line : run(List.of(PYTHON, script("verify.py")), tampered).output.split("\n")) {
            assertTrue(line.startsWith("fail "), "dkimpy accepted a tampered copy: " + line);
        }
    }

    @Test
    void mailDkimRejectsEveryTamperedCopy() throws Exception {
        for (String line : run(List.of("perl", script("verify.pl")), tampered).output.split("\n")) {
            assertTrue(!line.startsWith("pass "), "Mail::DKIM accepted a tampered copy: " + line);
        }
    }

    @Test
    void ourVerifierAgrees() throws Exception {
        DkimVerifier v = DkimFixtures.verifier();
        for (Path p : signed) {
            List<DkimVerifier.Result> r = v.verify(Files.readAllBytes(p));
            assertTrue(!r.isEmpty() && r.stream().allMatch(DkimVerifier.Result::pass), p + ": " + r);
        }
        for (Path p : tampered) {
            List<DkimVerifier.Result> r = v.verify(Files.readAllBytes(p));
            assertTrue(r.stream().noneMatch(DkimVerifier.Result::pass), p + ": " + r);
        }
    }

    private static long countIdn() {
        return signed.stream().filter(p -> p.getFileName().toString().startsWith("idn-")).count();
    }

    static String script(String name) {
        Path p = Path.of("src/test/resources/dkim", name);
        if (!Files.exists(p)) {
            fail("missing " + p.toAbsolutePath());
        }
        return p.toString();
    }

    record Run(int exit, String output) {
    }

    /** Runs a verifier over files; batches of 40 keep command lines short. */
    static Run run(List<String> command, List<Path> files) throws IOException, InterruptedException {
        StringBuilder out = new StringBuilder();
        int exit = 0;
        for (int i = 0; i < files.size(); i += 40) {
            List<String> cmd = new ArrayList<>(command);
            cmd.add(keysFile.toString());
            files.subList(i, Math.min(files.size(), i + 40)).forEach(f -> cmd.add(f.toString()));
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new AssertionError("cannot run " + command.get(0) + "; install the Debian packages "
                        + "python3-dkim python3-nacl libmail-dkim-perl (see .ci/run)", e);
            }
            String o = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(command + " did not finish in 120 s");
            }
            if (o.contains("ModuleNotFoundError") || o.contains("Can't locate Mail/DKIM")) {
                throw new AssertionError("verifier not installed; install python3-dkim python3-nacl "
                        + "libmail-dkim-perl (see .ci/run):\n" + o);
            }
            out.append(o);
            exit = Math.max(exit, p.exitValue());
        }
        return new Run(exit, out.toString());
    }

    static long count(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).count();
    }
}
