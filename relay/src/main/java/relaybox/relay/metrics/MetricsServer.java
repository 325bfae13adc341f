package relaybox.relay.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves {@code GET /metrics} (Prometheus text, or OpenMetrics when the scraper asks for it) and
 * {@code GET /healthz} ({@link Health} as JSON; 200 healthy or degraded, 503 unhealthy) on the
 * JDK's HTTP server. Owns the socket and nothing else: metric names live in {@link RelayMetrics},
 * the verdict in {@link Health}. Off unless {@code metrics_listen} is set; the daemon binds it to
 * loopback unless the operator wrote another address.
 *
 * <p>One daemon thread answers requests, one at a time: scrapes are rare (every 15 s or so) and
 * serialising them keeps a slow scrape from multiplying the O(queue) sampling.
 */
public final class MetricsServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);

    static final String TEXT_004 = "text/plain; version=0.0.4; charset=utf-8";
    static final String OPENMETRICS_100 = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Binds and starts serving. {@code metricsPath} is {@code metrics_path}, e.g. "/metrics". */
    public static MetricsServer start(InetSocketAddress address, String metricsPath, RelayMetrics metrics,
                                      HealthSource health) throws IOException {
        HttpServer server = HttpServer.create(address, 16);
        server.createContext(metricsPath, ex -> handle(ex, () -> metrics(ex, metrics)));
        server.createContext("/healthz", ex -> handle(ex, () -> health(ex, health)));
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.start();
        if (!server.getAddress().getAddress().isLoopbackAddress()) {
            LOG.warn("metrics and health are served on {}, not loopback: restrict access to it", server.getAddress());
        }
        return new MetricsServer(server, executor);
    }

    /** The bound address (the real port when started on port 0). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private interface Handler {
        void run() throws IOException;
    }

    private static void handle(HttpExchange ex, Handler h) throws IOException {
        try (ex) {
            String m = ex.getRequestMethod();
            if (!m.equals("GET") && !m.equals("HEAD")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                send(ex, 405, "text/plain; charset=utf-8", "method not allowed\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            h.run();
        } catch (IOException | RuntimeException e) {
            // The scraper will retry; a broken request must not kill the server thread.
            LOG.warn("metrics: {} {} failed: {}", ex.getRequestMethod(), ex.getRequestURI(), e.toString());
        }
    }

    private static void metrics(HttpExchange ex, RelayMetrics metrics) throws IOException {
        String accept = ex.getRequestHeaders().getFirst("Accept");
        String type = accept != null && accept.contains("application/openmetrics-text") ? OPENMETRICS_100 : TEXT_004;
        ByteArrayOutputStream body = new ByteArrayOutputStream(16 << 10);
        metrics.scrape(body, type);
        send(ex, 200, type, body.toByteArray());
    }

    private static void health(HttpExchange ex, HealthSource source) throws IOException {
        Health h = Health.evaluate(source);
        send(ex, h.status().httpStatus(), "application/json", (h.toJson() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
