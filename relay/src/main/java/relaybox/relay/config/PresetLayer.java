package relaybox.relay.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashSet;
import java.util.Set;

/**
 * Owns the values an upstream's preset lays under its table ({@link UpstreamPreset}), and which
 * keys took one, so {@code config show} can mark them. A key the table sets never reaches here.
 */
final class PresetLayer {

    static final PresetLayer NONE = new PresetLayer("", null);

    private final String name;
    private final JsonNode values;
    private final Set<String> taken = new HashSet<>();

    PresetLayer(String name, JsonNode values) {
        this.name = name;
        this.values = values;
    }

    /** The preset's value for {@code key}, or null when it has none. */
    JsonNode take(String key) {
        if (values == null || !values.has(key)) {
            return null;
        }
        taken.add(key);
        return values.get(key);
    }

    /** {@code literal}, followed by a TOML comment naming the preset if the value came from it. */
    String mark(String key, String literal) {
        return taken.contains(key) ? literal + "   # preset " + ConfigLiterals.quote(name) : literal;
    }
}
