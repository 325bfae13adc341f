package relaybox.relay.log;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import org.slf4j.LoggerFactory;
import relaybox.relay.config.LogConfig;

import java.net.URL;

/**
 * Owns switching the log format at start ({@code log_format}). Logback first configures itself
 * from {@code logback.xml} (text); when the configuration says {@code json}, {@link #apply}
 * reloads logback from {@value #JSON_RESOURCE}. Lines logged before that (only the ones reading
 * the configuration) are text. An operator's own {@code -Dlogback.configurationFile} always wins:
 * then this class changes nothing. Does not decide what is logged, only how it is written.
 */
public final class LogSetup {

    public static final String JSON_RESOURCE = "relaybox/logback-json.xml";
    public static final String TEXT_RESOURCE = "logback.xml";

    private LogSetup() {
    }

    /** Call once at start, right after the configuration is loaded and before the stages start. */
    public static void apply(LogConfig config) {
        if (System.getProperty("logback.configurationFile") != null) {
            return;
        }
        if (config.json()) {
            load(JSON_RESOURCE);
        }
    }

    /** Reconfigures logback from a class-path resource; exposed for tests that switch back. */
    static void load(String resource) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            return; // another SLF4J backend is bound (tests of other modules); nothing to switch
        }
        URL url = LogSetup.class.getClassLoader().getResource(resource);
        if (url == null) {
            throw new IllegalStateException("log configuration " + resource + " is missing from the class path");
        }
        ctx.reset();
        JoranConfigurator j = new JoranConfigurator();
        j.setContext(ctx);
        try {
            j.doConfigure(url);
        } catch (JoranException e) {
            // A broken built-in resource is a packaging bug: fail loud at start.
            throw new IllegalStateException("cannot load " + resource + ": " + e.getMessage(), e);
        }
    }
}
