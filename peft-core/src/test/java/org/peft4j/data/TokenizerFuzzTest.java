package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/**
 * Fuzzes tokenizer.json loading in a child JVM: seeded mutations of the fixture tokenizer (values replaced by
 * out-of-range numbers, wrong types, unknown tags; components replaced by random ones, decoders with Strip / Replace /
 * Metaspace parameters) are loaded, used to encode and decode, for {@code peft4j.tokenizerFuzzSeconds} (default 15);
 * a file that aborts the native library kills the child, which the parent reports with the file's content (add it
 * to {@code tokenizer-crashers/}). Every other outcome (a tokenizer, an exception) is fine here; which exceptions is
 * the business of the mutation tests of the tokenizer files. Long run: {@code mvn -o -pl peft-core test
 * -Dtest=TokenizerFuzzTest -Dpeft4j.tokenizerFuzzSeconds=600 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class TokenizerFuzzTest {

    @Test
    void noMutatedTokenizerJsonAbortsTheJvm(@TempDir Path work) throws IOException, InterruptedException {
        int seconds = Integer.getInteger("peft4j.tokenizerFuzzSeconds", 15);
        long seed = Long.getLong("peft4j.tokenizerFuzzSeed", 16);
        // the build replays a fixed prefix of the seeded sequence (every try in it passed here: about 22,000 fit in
        // 15 s), so a faster machine never reaches untried cases; long runs raise both bounds
        int maxTries = Integer.getInteger("peft4j.tokenizerFuzzMaxTries", seconds == 15 ? 20_000 : Integer.MAX_VALUE);
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx384m",
                "-cp", System.getProperty("java.class.path"), Child.class.getName(),
                Fixtures.root().resolve("tokenizer").resolve("tokenizer.json").toString(), work.toString(),
                Integer.toString(seconds), Long.toString(seed), Integer.toString(maxTries));
        Path log = work.resolve("child.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean done = p.waitFor(seconds + 120L, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        List<String> lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
        String last = lines.stream().filter(l -> l.startsWith("TRY ")).reduce((a, b) -> b).orElse("(none)");
        String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        Path current = work.resolve("case").resolve("tokenizer.json");
        String crasher = Files.exists(current) ? Files.readString(current, StandardCharsets.UTF_8) : "";
        assertThat(done).as("child finished; last %s", last).isTrue();
        assertThat(p.exitValue()).as("child exit code (134 = native abort) at %s; output tail:%n%s%nfile:%n%s", last,
                tail, crasher.length() > 4000 ? crasher.substring(0, 4000) : crasher).isZero();
        String summary = lines.stream().filter(l -> l.startsWith("DONE ")).findFirst().orElse("");
        assertThat(summary).as("output tail:%n%s", tail).isNotEmpty();
        System.out.println("TokenizerFuzzTest: " + summary);
    }

    /** The child: mutates, loads and uses tokenizers until its time is up. */
    public static final class Child {
        private static final Object[] VALUES = {-1, 0, 1, 2, 7, 300, 4294967295L, 4294967296L,
            new BigInteger("18446744073709551615"), new BigInteger("18446744073709551616"), 1e30, 1.5, -0.5, "",
            "x", "\u0000", "ab", "\u2581", true, false, null, "[]", "{}"};
        private static final String[] TYPES = {"ByteLevel", "Strip", "Replace", "Fuse", "ByteFallback", "Metaspace",
            "WordPiece", "BPEDecoder", "CTC", "Sequence", "Whitespace", "Split", "Punctuation", "Digits", "NFC",
            "Lowercase", "Precompiled", "Prepend", "BertNormalizer", "TemplateProcessing", "BertProcessing",
            "RobertaProcessing", "BPE", "WordLevel", "Unigram", "Nope"};
        private static final String[] FIELDS = {"start", "stop", "content", "pattern", "prefix", "replacement",
            "prepend_scheme", "split", "behavior", "invert", "individual_digits", "cleanup", "pad_token",
            "word_delimiter_token", "suffix", "delimiter", "sep", "cls", "trim_offsets", "add_prefix_space",
            "use_regex", "unk_id", "unk_token", "dropout", "strip_left", "strip_right", "precompiled_charsmap",
            "decoders", "pretokenizers", "normalizers", "processors", "special_tokens", "single", "pair", "vocab"};
        private static final String[] SECTIONS = {"normalizer", "pre_tokenizer", "post_processor", "decoder", "model",
            "truncation", "padding"};

        public static void main(String[] args) throws IOException {
            JsonObject base = JsonParser.parseString(Files.readString(Path.of(args[0]), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            Path dir = Path.of(args[1]).resolve("case");
            Files.createDirectories(dir);
            long end = System.nanoTime() + Long.parseLong(args[2]) * 1_000_000_000L;
            Random r = new Random(Long.parseLong(args[3]));
            int tried = 0;
            int refused = 0;
            int loaded = 0;
            int maxTries = Integer.parseInt(args[4]);
            while (System.nanoTime() < end && tried < maxTries) {
                JsonObject j = base.deepCopy();
                int n = 1 + r.nextInt(3);
                for (int i = 0; i < n; i++) {
                    mutate(j, r);
                }
                Files.writeString(dir.resolve("tokenizer.json"), j.toString(), StandardCharsets.UTF_8);
                System.out.println("TRY " + tried);
                System.out.flush();
                tried++;
                try (HfTokenizer t = HfTokenizer.load(dir)) {
                    long[] ids = t.encode("Hello  world! 123 \u00fcn\u00efc\u00f8d\u00e9 \ud83d\ude42 <|eot_id|> x", true);
                    t.encodeWithOffsets("a b  c\n\td");
                    t.decode(ids);
                    for (int i = 0; i < 300; i++) {
                        t.decode(new long[] {i});
                    }
                    t.decode(new long[0]);
                    loaded++;
                } catch (RuntimeException e) {
                    refused++;
                }
            }
            System.out.println("DONE tried=" + tried + " refused=" + refused + " loaded=" + loaded);
        }

        private static JsonElement value(Random r) {
            Object v = VALUES[r.nextInt(VALUES.length)];
            if (v == null) {
                return JsonNull.INSTANCE;
            }
            if (v instanceof Boolean) {
                return new JsonPrimitive((Boolean) v);
            }
            if (v instanceof Number) {
                return new JsonPrimitive((Number) v);
            }
            String s = (String) v;
            return s.equals("[]") ? new JsonArray() : s.equals("{}") ? new JsonObject() : new JsonPrimitive(s);
        }

        private static JsonObject component(Random r, int depth) {
            JsonObject o = new JsonObject();
            String type = TYPES[r.nextInt(TYPES.length)];
            o.addProperty("type", type);
            if (type.equals("Strip")) {
                o.addProperty("content", r.nextBoolean() ? " " : "\u0120");
                o.addProperty("start", r.nextInt(3));
                o.addProperty("stop", r.nextInt(3));
            }
            int fields = r.nextInt(4);
            for (int i = 0; i < fields; i++) {
                String f = FIELDS[r.nextInt(FIELDS.length)];
                if (depth < 2 && (f.endsWith("s") && r.nextBoolean())) {
                    JsonArray a = new JsonArray();
                    a.add(component(r, depth + 1));
                    o.add(f, a);
                } else {
                    o.add(f, value(r));
                }
            }
            return o;
        }

        /** Every path into {@code e}, at most 40 elements of an array or object sampled. */
        private static void paths(JsonElement e, List<JsonElement> parents, List<Object> keys, Random r) {
            if (e.isJsonObject()) {
                List<String> ks = new ArrayList<>(e.getAsJsonObject().keySet());
                for (int i = 0; i < Math.min(40, ks.size()); i++) {
                    String k = ks.size() > 40 ? ks.get(r.nextInt(ks.size())) : ks.get(i);
                    parents.add(e);
                    keys.add(k);
                    paths(e.getAsJsonObject().get(k), parents, keys, r);
                }
            } else if (e.isJsonArray()) {
                JsonArray a = e.getAsJsonArray();
                for (int i = 0; i < Math.min(40, a.size()); i++) {
                    int k = a.size() > 40 ? r.nextInt(a.size()) : i;
                    parents.add(e);
                    keys.add(k);
                    paths(a.get(k), parents, keys, r);
                }
            }
        }

        private static void mutate(JsonObject j, Random r) {
            if (r.nextInt(3) == 0) {
                j.add(SECTIONS[r.nextInt(SECTIONS.length)], component(r, 0));
                return;
            }
            List<JsonElement> parents = new ArrayList<>();
            List<Object> keys = new ArrayList<>();
            paths(j, parents, keys, r);
            int i = r.nextInt(parents.size());
            JsonElement v = r.nextInt(4) == 0 ? new JsonPrimitive(TYPES[r.nextInt(TYPES.length)]) : value(r);
            if (parents.get(i).isJsonObject()) {
                parents.get(i).getAsJsonObject().add((String) keys.get(i), v);
            } else {
                parents.get(i).getAsJsonArray().set((Integer) keys.get(i), v);
            }
        }
    }
}
