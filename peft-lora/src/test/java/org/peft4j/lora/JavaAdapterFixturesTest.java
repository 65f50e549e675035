package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/**
 * {@link JavaAdapterFixtures}: the committed {@code interop/fixtures/java-adapters} are what the program writes (two
 * cases are regenerated into a temporary folder and compared), and their adapters hold trained values.
 *
 * <p>With {@code -Dpeft4j.writeJavaAdapters=true}, {@link #regenerate()} rewrites the committed fixtures.
 */
class JavaAdapterFixturesTest {

    @Test
    @EnabledIfSystemProperty(named = "peft4j.writeJavaAdapters", matches = "true")
    void regenerate() throws Exception {
        String only = System.getProperty("peft4j.javaAdapterCases", "");
        List<String> args = new ArrayList<>(List.of(Fixtures.root().resolve("java-adapters").toString()));
        if (!only.isBlank()) {
            args.addAll(List.of(only.split(",")));
        }
        JavaAdapterFixtures.main(args.toArray(new String[0]));
    }

    static List<String> files(Path dir) throws Exception {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(Files::isRegularFile).forEach(p -> out.add(dir.relativize(p).toString().replace('\\', '/')));
        }
        return new ArrayList<>(new TreeSet<>(out));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qv", "two-adapters"})
    void programRewritesTheCommittedCase(String name, @TempDir Path tmp) throws Exception {
        Path got = JavaAdapterFixtures.write(JavaAdapterFixtures.cases().get(name), tmp);
        Path want = Fixtures.root().resolve("java-adapters").resolve(name);
        assertThat(files(got)).isEqualTo(files(want));
        for (String f : files(want)) {
            if (f.endsWith(".safetensors")) {
                try (SafeTensors a = SafeTensors.open(got.resolve(f)); SafeTensors b = SafeTensors.open(want.resolve(f))) {
                    assertThat(a.metadata()).isEqualTo(b.metadata());
                    assertThat(a.keys()).containsExactlyElementsOf(b.keys());
                    for (String k : b.keys()) {
                        assertThat(a.get(k).shape()).as(f + ":" + k).isEqualTo(b.get(k).shape());
                        assertThat(a.get(k).dtype()).isEqualTo(b.get(k).dtype());
                        if (a.get(k).dtype() == org.peft4j.tensor.DType.I64) {
                            assertThat(a.get(k).toLongArray()).isEqualTo(b.get(k).toLongArray());
                        } else {
                            assertThat(Fixtures.maxAbsDiff(a.get(k).toFloatArray(), b.get(k).toFloatArray()))
                                    .as(f + ":" + k).isLessThan(1e-4);
                        }
                    }
                }
            } else if (f.equals("case.json")) {
                JsonObject a = Fixtures.json(got.resolve(f));
                JsonObject b = Fixtures.json(want.resolve(f));
                JsonArray la = a.getAsJsonObject("training").remove("losses").getAsJsonArray();
                JsonArray lb = b.getAsJsonObject("training").remove("losses").getAsJsonArray();
                la.add(a.remove("observations").getAsJsonObject().get("logits_vs_adapters_disabled_max_abs"));
                lb.add(b.remove("observations").getAsJsonObject().get("logits_vs_adapters_disabled_max_abs"));
                assertThat(a).isEqualTo(b);
                assertThat(la.size()).isEqualTo(lb.size());
                for (int i = 0; i < la.size(); i++) {
                    assertThat(la.get(i).getAsDouble()).isCloseTo(lb.get(i).getAsDouble(),
                            org.assertj.core.api.Assertions.within(1e-4));
                }
            } else {
                assertThat(Files.readString(got.resolve(f))).as(f).isEqualTo(Files.readString(want.resolve(f)));
            }
        }
    }

    @Test
    void committedAdaptersHoldTrainedValues() throws Exception {
        for (String name : JavaAdapterFixtures.cases().keySet()) {
            Path dir = Fixtures.root().resolve("java-adapters").resolve(name);
            JsonObject c = Fixtures.json(dir.resolve("case.json"));
            // only a saved copy of a frozen base weight (the embedding case's base embedding) may be untouched
            for (Map.Entry<String, JsonElement> a : c.getAsJsonObject("unchanged_by_training").entrySet()) {
                for (JsonElement k : a.getValue().getAsJsonArray()) {
                    assertThat(k.getAsString()).as(name).endsWith(".base_layer.weight").doesNotContain("lora_");
                }
            }
            JsonArray losses = c.getAsJsonObject("training").getAsJsonArray("losses");
            assertThat(losses.size()).isEqualTo(JavaAdapterFixtures.STEPS);
            // the adapters change the logits far beyond the 1e-4 tolerance PEFT's check uses
            assertThat(c.getAsJsonObject("observations").get("logits_vs_adapters_disabled_max_abs").getAsDouble())
                    .as(name).isGreaterThan(1e-2);
            assertThat(losses.get(losses.size() - 1).getAsDouble()).as(name + " loss went down")
                    .isLessThan(losses.get(0).getAsDouble());
        }
    }
}
