package org.peft4j.testutil;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Deterministic single-point mutations of a JSON config, for tests that feed bad files to a loader: one field (top
 * level, or one level down in a nested object) replaced by a value of the wrong type or out of range, a malformed
 * regex, the text truncated, a key duplicated, or lenient-only JSON syntax.
 */
public final class ConfigMutator {
    /** One mutated file: its text, the field mutated (dotted for nested, null for a file-level mutation) and how. */
    public static final class Mutation {
        public final String text;
        public final String field;
        public final String description;
        /** Whether a strict loader must refuse it (truncation, duplicate key, lenient-only syntax). */
        public final boolean mustFail;

        Mutation(String text, String field, String description, boolean mustFail) {
            this.text = text;
            this.field = field;
            this.description = description;
            this.mustFail = mustFail;
        }

        /** The last segment of the field ({@code factor} for {@code rope_parameters.factor}), or null. */
        public String leaf() {
            return field == null ? null : field.substring(field.lastIndexOf('.') + 1);
        }

        @Override
        public String toString() {
            return (field == null ? "<file>" : field) + " <- " + description;
        }
    }

    /** Replacement values, as JSON text. */
    public static final List<String> VALUES = List.of("[]", "[\"x\"]", "[1, [2]]", "{}", "{\"a\": 1}", "\"x\"",
            "\"NaN\"", "\"Infinity\"", "\"([\"", "[\"([\"]", "true", "false", "null", "1e10", "1e400", "-1e400", "-1",
            "0", "4294967296", "2147483648", "-2147483649", "1.5", "1e-400", "9223372036854775808", "\"8\"");

    private ConfigMutator() {
    }

    /** {@code count} mutations of {@code base} drawn with {@code seed}. */
    public static List<Mutation> mutations(String base, long seed, int count) {
        JsonObject o = JsonParser.parseString(base).getAsJsonObject();
        List<String> fields = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            fields.add(e.getKey());
            if (e.getValue().isJsonObject()) {
                for (String k : e.getValue().getAsJsonObject().keySet()) {
                    fields.add(e.getKey() + "." + k);
                }
            }
        }
        Random rnd = new Random(seed);
        List<Mutation> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int kind = rnd.nextInt(10);
            if (kind == 0) {
                int cut = 1 + rnd.nextInt(base.length() - 2);
                out.add(new Mutation(base.substring(0, cut), null, "truncated at " + cut, true));
            } else if (kind == 1) {
                String f = fields.get(rnd.nextInt(fields.size()));
                if (f.contains(".")) {
                    f = f.substring(0, f.indexOf('.'));
                }
                String v = VALUES.get(rnd.nextInt(VALUES.size()));
                int brace = base.indexOf('{');
                out.add(new Mutation(base.substring(0, brace + 1) + "\"" + f + "\": " + v + ", "
                        + base.substring(brace + 1), f, "duplicated as " + v, true));
            } else if (kind == 2) {
                String[] lenient = {"// comment\n" + base, base + " trailing", base.replaceFirst("\"", "'")
                        .replaceFirst("\"", "'"), base.replaceFirst(",\\s*\"", ", /* c */ \""),
                    base.replaceFirst("\\{", "{unquoted: 1, "), base.replaceFirst("\\{", "{\"k\": NaN, "),
                    base.replaceFirst("\\{", "{\"k\": Infinity, "), base + base, "[" + base + "]", "\"" + "x\"", ""};
                int w = rnd.nextInt(lenient.length);
                out.add(new Mutation(lenient[w], null, "lenient-only syntax #" + w, true));
            } else {
                String f = fields.get(rnd.nextInt(fields.size()));
                String v = VALUES.get(rnd.nextInt(VALUES.size()));
                out.add(new Mutation(replace(base, f, v), f, v, false));
            }
        }
        return out;
    }

    /** Loads the file a mutation was written to (and uses the result the way the library would). */
    @FunctionalInterface
    public interface Loader {
        void load(Path file) throws Exception;
    }

    /** What the mutations of a run gave: loaded, declared errors, and the bad outcomes with their kinds. */
    public static final class Tally {
        public int loaded;
        public int declared;
        public final List<String> bad = new ArrayList<>();
        public final TreeMap<String, Integer> kinds = new TreeMap<>();

        private void bad(String where, String kind, String what) {
            bad.add(where + ": " + what);
            kinds.merge(kind, 1, Integer::sum);
        }

        /** One line of counts and up to {@code max} bad outcomes, for the test's output. */
        public void print(String what, int max) {
            System.out.println(what + " mutations: " + loaded + " loaded, " + declared + " declared errors, "
                    + bad.size() + " bad; kinds " + kinds);
            bad.stream().limit(max).forEach(System.out::println);
        }
    }

    /**
     * Writes {@code perFile} mutations of each base file to {@code file} in turn and loads it: a mutation that must
     * fail may not load; an exception must be {@code declared} and name {@code file} (and, for a field mutation,
     * the field); anything else is counted bad.
     *
     * @param label how a base file is named in the output
     */
    public static Tally run(List<Path> bases, Path file, long seed, int perFile, Loader loader,
            Predicate<Throwable> declared, Function<Path, String> label) throws Exception {
        Tally t = new Tally();
        for (int b = 0; b < bases.size(); b++) {
            String base = Files.readString(bases.get(b), StandardCharsets.UTF_8);
            for (Mutation m : mutations(base, seed + b, perFile)) {
                Files.writeString(file, m.text, StandardCharsets.UTF_8);
                String where = label.apply(bases.get(b)) + ": " + m;
                try {
                    loader.load(file);
                    if (m.mustFail) {
                        t.bad(where, "accepted", "accepted");
                    } else {
                        t.loaded++;
                    }
                } catch (StackOverflowError | OutOfMemoryError e) {
                    t.bad(where, e.getClass().getName(), "undeclared " + e);
                } catch (Exception e) {
                    String msg = String.valueOf(e.getMessage());
                    if (!declared.test(e)) {
                        t.bad(where, e.getClass().getName(), "undeclared " + e);
                    } else if (!msg.contains(file.toString())) {
                        t.bad(where, "no file in message", "message does not name the file: " + msg);
                    } else if (m.field != null && !m.mustFail && !msg.contains(m.leaf())) {
                        t.bad(where, "no field in message", "message does not name the field: " + msg);
                    } else {
                        t.declared++;
                    }
                }
            }
        }
        return t;
    }

    /** {@code base} with {@code field} (dotted for nested) set to the JSON text {@code value}, other bytes kept. */
    public static String replace(String base, String field, String value) {
        JsonObject o = JsonParser.parseString(base).getAsJsonObject();
        String marker = "\"__MUTATION_MARKER__\"";
        JsonObject target = o;
        String key = field;
        if (field.contains(".")) {
            target = o.getAsJsonObject(field.substring(0, field.indexOf('.')));
            key = field.substring(field.indexOf('.') + 1);
        }
        target.addProperty(key, "__MUTATION_MARKER__");
        // Gson escapes nothing in these keys/values; substitute the raw JSON text for the marker
        return o.toString().replace(marker, value);
    }
}
