package relaybox.relay.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static relaybox.relay.config.ConfigLiterals.formatDuration;
import static relaybox.relay.config.ConfigLiterals.list;
import static relaybox.relay.config.ConfigLiterals.quote;

/**
 * Owns turning one TOML table into typed values, and every configuration error message. Each
 * stage's config record reads its own keys through one of these; {@link #finish()} then fails on
 * any key nobody read, so a typo is an error at start, never a silently ignored setting.
 *
 * <p>Error messages have one shape: {@code FILE: KEY: what is wrong (got VALUE)}.
 */
public final class ConfigReader {

    private final String source;
    private final String prefix;
    private final JsonNode table;
    private final Set<String> used = new LinkedHashSet<>();
    private final List<ConfigReader> children = new ArrayList<>();
    /** Each key read, with the value in effect (read or default) as a TOML literal, for config show. */
    private final java.util.Map<String, String> effective = new java.util.LinkedHashMap<>();
    private final java.util.Map<String, List<ConfigReader>> tableGroups = new java.util.LinkedHashMap<>();
    /** This table's dotted name as config show writes its header ("upstream", "upstream.login"); "" at the top. */
    private String tableName = "";
    /** Values an upstream's preset supplies for keys this table does not set. */
    private PresetLayer preset = PresetLayer.NONE;

    private ConfigReader(String source, String prefix, JsonNode table) {
        this.source = source;
        this.prefix = prefix;
        this.table = table;
    }

    /** Reads a TOML file; a syntax error is reported with the file name and position. */
    public static ConfigReader load(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ConfigException(file + ": cannot read the configuration: no such file");
        } catch (java.nio.file.AccessDeniedException e) {
            throw new ConfigException(file + ": cannot read the configuration: permission denied (running as "
                    + System.getProperty("user.name") + ")");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read the configuration: " + e.getMessage(), e);
        }
        return parse(file.toString(), text);
    }

    public static ConfigReader parse(String source, String toml) throws ConfigException {
        try {
            JsonNode root = new TomlMapper().readTree(toml);
            return new ConfigReader(source, "", root == null ? new TomlMapper().createObjectNode() : root);
        } catch (IOException e) {
            throw new ConfigException(source + ": not valid TOML: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    /** An empty reader: every key takes its default. */
    public static ConfigReader empty() {
        return new ConfigReader("(defaults)", "", new TomlMapper().createObjectNode());
    }

    public String source() {
        return source;
    }

    /** True when the table itself sets {@code key} (a preset's value does not count). */
    public boolean has(String key) {
        return table.has(key);
    }

    /**
     * Lays {@code values} (preset {@code name}'s) under this table: a key the table does not set
     * takes the preset's value, checked like a written one, and {@link #render} marks it.
     */
    void preset(String name, JsonNode values) {
        preset = new PresetLayer(name, values);
    }

    public String string(String key, String def) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return shown(key, def, def == null ? "\"\"" : quote(def));
        }
        if (!n.isTextual()) {
            throw error(key, "expected a string in quotes", n);
        }
        return shown(key, n.asText(), quote(n.asText()));
    }

    /** A string that must be one of {@code allowed}. */
    public String choice(String key, String def, String... allowed) throws ConfigException {
        String v = string(key, def);
        for (String a : allowed) {
            if (a.equals(v)) {
                return v;
            }
        }
        throw error(key, "expected one of " + String.join(", ", allowed), v);
    }

    public boolean bool(String key, boolean def) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return shown(key, def, Boolean.toString(def));
        }
        if (!n.isBoolean()) {
            throw error(key, "expected true or false", n);
        }
        return shown(key, n.asBoolean(), Boolean.toString(n.asBoolean()));
    }

    public long integer(String key, long def, long min, long max) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return shown(key, def, Long.toString(def));
        }
        // canConvertToLong: a TOML integer beyond long range would otherwise wrap around silently.
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw error(key, "expected a whole number", n);
        }
        long v = n.asLong();
        if (v < min || v > max) {
            throw error(key, "expected a number from " + min + " to " + max, n);
        }
        return shown(key, v, Long.toString(v));
    }

    public double decimal(String key, double def, double min, double max) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return shown(key, def, Double.toString(def));
        }
        if (!n.isNumber()) {
            throw error(key, "expected a number", n);
        }
        double v = n.asDouble();
        if (!(v >= min && v <= max)) {
            throw error(key, "expected a number from " + min + " to " + max, n);
        }
        return shown(key, v, Double.toString(v));
    }

    /** A duration written as "500ms", "30s", "5m", "2h" or "5d". */
    public Duration duration(String key, Duration def) throws ConfigException {
        JsonNode n = take(key);
        Duration d = n == null ? def : parseDuration(n.asText()).orElseThrow(() ->
                error(key, "expected a duration like \"30s\", \"5m\", \"2h\" or \"5d\"", n));
        return shown(key, d, d == null ? "\"\"" : quote(formatDuration(d)));
    }

    public static java.util.Optional<Duration> parseDuration(String text) {
        return ConfigLiterals.parseDuration(text);
    }

    /** A byte size written as a number of bytes or "512KiB", "25MiB", "1GiB". */
    public long size(String key, long def) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return shown(key, def, Long.toString(def));
        }
        if (n.isIntegralNumber() && n.canConvertToLong() && n.asLong() >= 0) {
            return shown(key, n.asLong(), Long.toString(n.asLong()));
        }
        if (!n.isTextual()) {
            throw error(key, "expected a size like \"25MiB\" or a number of bytes", n);
        }
        long bytes;
        try {
            bytes = ConfigLiterals.parseSize(n.asText());
        } catch (IllegalArgumentException e) {
            throw error(key, e.getMessage(), n);
        }
        return shown(key, bytes, Long.toString(bytes));
    }

    public List<String> stringList(String key, List<String> def) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return shown(key, def, def == null ? "[]" : list(def));
        }
        if (!n.isArray()) {
            throw error(key, "expected a list of strings like [\"a\", \"b\"]", n);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw error(key, "expected a list of strings like [\"a\", \"b\"]", n);
            }
            out.add(e.asText());
        }
        return shown(key, List.copyOf(out), list(out));
    }

    public Path path(String key, Path def) throws ConfigException {
        String s = string(key, def == null ? null : def.toString());
        return s == null ? null : Path.of(s);
    }

    /** The tables of an array of tables such as {@code [[upstream]]}, each read with its own reader. */
    public List<ConfigReader> tables(String key) throws ConfigException {
        JsonNode n = take(key);
        if (n == null) {
            return List.of();
        }
        if (!n.isArray()) {
            throw error(key, "expected [[" + key + "]] tables", n);
        }
        List<ConfigReader> out = new ArrayList<>();
        int i = 0;
        for (JsonNode e : n) {
            if (!e.isObject()) {
                throw error(key, "expected [[" + key + "]] tables", n);
            }
            ConfigReader child = new ConfigReader(source, prefix + key + "[" + i++ + "].", e);
            child.tableName = tableName.isEmpty() ? key : tableName + "." + key;
            children.add(child);
            tableGroups.computeIfAbsent(key, k -> new ArrayList<>()).add(child);
            out.add(child);
        }
        return out;
    }

    /**
     * A table of names to addresses, such as {@code [aliases]}: each value a string or a list of
     * strings. Absent: empty. Keys keep the file's order.
     */
    public java.util.Map<String, List<String>> stringMap(String key) throws ConfigException {
        JsonNode n = take(key);
        if (n != null && !n.isObject()) {
            throw error(key, "expected a [" + key + "] table of name = \"address\" lines", n);
        }
        try {
            java.util.Map<String, List<String>> out = n == null ? new java.util.LinkedHashMap<>()
                    : ConfigLiterals.stringMap(n);
            return shown(key, out, ConfigLiterals.mapLiteral(out));
        } catch (ConfigLiterals.BadValue e) {
            throw error(key, e.getMessage(), e.got);
        }
    }

    /** Every key some stage asked for at this level, present or not (for the shipped-config test). */
    public Set<String> keysRead() {
        return Set.copyOf(used);
    }

    /**
     * The configuration in effect, defaults included, as TOML: what {@code relaybox config show}
     * prints. Secrets never appear here: they live in files the configuration only names.
     */
    public String render() {
        StringBuilder b = new StringBuilder();
        effective.forEach((k, v) -> b.append(k).append(" = ").append(v).append('\n'));
        tableGroups.forEach((name, tables) -> {
            for (ConfigReader t : tables) {
                b.append("\n[[").append(t.tableName).append("]]\n").append(t.render());
            }
        });
        return b.toString();
    }

    private <T> T shown(String key, T value, String literal) {
        effective.put(key, preset.mark(key, literal));
        return value;
    }

    /** Fails on the first key that no stage read: a typo or a key from another version. */
    public void finish() throws ConfigException {
        Iterator<String> names = table.fieldNames();
        while (names.hasNext()) {
            String k = names.next();
            if (!used.contains(k)) {
                throw new ConfigException(source + ": " + prefix + k + ": unknown key (check the spelling;"
                        + " every key is listed in the shipped relaybox.conf)");
            }
        }
        for (ConfigReader c : children) {
            c.finish();
        }
    }

    /** An error about {@code key} with the offending value, for checks done by the caller. */
    public ConfigException error(String key, String what, Object got) {
        String shown = got instanceof JsonNode j ? j.toString()
                : got instanceof Duration d ? "\"" + formatDuration(d) + "\"" : "\"" + got + "\"";
        return new ConfigException(source + ": " + prefix + key + ": " + what + " (got " + shown + ")");
    }

    private JsonNode take(String key) {
        used.add(key);
        JsonNode n = table.get(key);
        return n == null || n.isNull() ? preset.take(key) : n;
    }
}
