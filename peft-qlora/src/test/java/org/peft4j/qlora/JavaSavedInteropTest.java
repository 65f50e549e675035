package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Java → Python: 4-bit folders peft4j saved ({@code interop/fixtures/io/java-saved}, written by
 * {@link JavaSavedFixtures}) were loaded by transformers 5.23 + bitsandbytes 0.50.2 ({@code interop/check_io_saved.py})
 * with a plain {@code from_pretrained}, which recorded its verdict in {@code report.json}: this test holds the report
 * to the committed files (every file's sha256), requires every case to have passed (logits within 1e-4 of Java's,
 * the same greedy tokens, the same 4-bit modules, no missing or unexpected weights), and checks that peft4j reloading
 * its own folder reproduces its logits.
 */
class JavaSavedInteropTest {
    static Path root() {
        return Fixtures.root().resolve("io").resolve("java-saved");
    }

    static List<String> cases() throws Exception {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(root())) {
            s.filter(p -> Files.exists(p.resolve("case.json"))).forEach(p -> out.add(p.getFileName().toString()));
        }
        out.sort(null);
        return out;
    }

    @Test
    void transformersLoadedEveryPeft4jFolderAndReproducedItsLogits() throws Exception {
        JsonObject report = Fixtures.json(root().resolve("report.json"));
        assertThat(cases()).containsExactlyInAnyOrderElementsOf(JavaSavedFixtures.cases().keySet());
        assertThat(report.getAsJsonObject("cases").keySet()).containsExactlyInAnyOrderElementsOf(cases());
        assertThat(report.get("transformers_version").getAsString()).isEqualTo("5.23.0");
        assertThat(report.get("tolerance").getAsDouble()).isLessThanOrEqualTo(1e-4);
        for (String c : cases()) {
            JsonObject r = report.getAsJsonObject("cases").getAsJsonObject(c);
            assertThat(r.get("error").isJsonNull()).as(c + ": " + r.get("error")).isTrue();
            assertThat(r.get("passed").getAsBoolean()).as(c).isTrue();
            assertThat(r.get("generate_equal").getAsBoolean()).isTrue();
            assertThat(r.get("linear4bit_equal").getAsBoolean()).isTrue();
            assertThat(r.getAsJsonArray("missing_or_unexpected")).isEmpty();
            assertThat(r.get("max_abs_diff").getAsDouble()).isLessThanOrEqualTo(1e-4);
            Map<String, String> want = new TreeMap<>();
            r.getAsJsonObject("files_sha256").entrySet().forEach(e -> want.put(e.getKey(), e.getValue()
                    .getAsString()));
            assertThat(sha256Tree(root().resolve(c))).as(c + " files vs the report").isEqualTo(want);
        }
    }

    @Test
    void peft4jReloadsItsOwnFolder() throws Exception {
        for (String c : cases()) {
            PreTrainedModel m = AutoModelForCausalLM.fromPretrained(root().resolve(c).resolve("model"));
            try (SafeTensors exp = SafeTensors.open(root().resolve(c).resolve("expected.safetensors"))) {
                Tensor ids = exp.get("input_ids");
                float[] got = m.logits(ids, Bnb4bitCheckpointTest.ones(ids)).toFloatArray();
                assertThat(IoFixtures.maxAbsDiff(got, exp.get("logits").toFloatArray())).isLessThan(1e-5);
            }
        }
    }

    /** Rewrites the committed folders (then rerun check_io_saved.py): {@code -Dpeft4j.writeJavaSaved=true}. */
    @Test
    @EnabledIfSystemProperty(named = "peft4j.writeJavaSaved", matches = "true")
    void regenerate() throws Exception {
        JavaSavedFixtures.main(new String[] {root().toString()});
    }

    static Map<String, String> sha256Tree(Path folder) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(folder)) {
            for (Path p : s.filter(Files::isRegularFile).toArray(Path[]::new)) {
                byte[] h = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                out.put(folder.relativize(p).toString().replace('\\', '/'), HexFormat.of().formatHex(h));
            }
        }
        return out;
    }
}
