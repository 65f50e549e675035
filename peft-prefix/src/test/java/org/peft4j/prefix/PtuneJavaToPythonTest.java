package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.peft.PeftModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Java → Python: prompt-tuning and P-tuning adapters saved by peft4j ({@code interop/fixtures/ptune/java-adapters},
 * written by {@link PtuneJavaAdapters}) were loaded by PEFT 0.21.2 ({@code interop/check_java_adapters.py}), whose
 * verdict is in {@code report.json}: PEFT's logits (virtual positions dropped) within 1e-4 of Java's, no missing or
 * unexpected key, about exactly the committed files (sha256). Java reloading them reproduces its logits.
 */
class PtuneJavaToPythonTest {
    static Path root() {
        return PtuneJavaAdapters.root();
    }

    static Map<String, String> sha256Tree(Path folder) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(folder)) {
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                byte[] h = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                out.put(folder.relativize(p).toString().replace('\\', '/'), HexFormat.of().formatHex(h));
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"pt-llama", "ptun-mlp-gpt2", "ptun-lstm-llama"})
    void peftLoadedJavasAdapterAndReproducedItsLogits(String name) throws Exception {
        JsonObject report = Fixtures.json(root().resolve("report.json"));
        assertThat(report.get("peft_version").getAsString()).isEqualTo("0.21.2");
        JsonObject r = report.getAsJsonObject("cases").getAsJsonObject(name);
        assertThat(r).as(name + " not in report.json").isNotNull();
        assertThat(r.get("error").isJsonNull()).as(name + ": " + r.get("error")).isTrue();
        assertThat(r.get("max_abs_diff").getAsDouble()).isLessThanOrEqualTo(1e-4);
        assertThat(r.getAsJsonArray("missing_keys")).isEmpty();
        assertThat(r.getAsJsonArray("unexpected_keys")).isEmpty();
        assertThat(r.get("passed").getAsBoolean()).isTrue();
        Map<String, String> reported = new TreeMap<>();
        r.getAsJsonObject("files_sha256").entrySet().forEach(e -> reported.put(e.getKey(), e.getValue()
                .getAsString()));
        assertThat(sha256Tree(root().resolve(name))).as(name + ": files differ from those PEFT checked; run "
                + "interop/check_java_adapters.py --root interop/fixtures/ptune/java-adapters again")
                .isEqualTo(reported);
        Map<String, Tensor> exp = PtuneFixtures.read(root().resolve(name).resolve("expected.safetensors"));
        String model = Fixtures.json(root().resolve(name).resolve("case.json")).get("model").getAsString();
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(model)),
                root().resolve(name).resolve("adapter"));
        assertThat(PtuneFixtures.maskedMaxAbsDiff(pm.logits(exp.get("input_ids"), exp.get("attention_mask")),
                exp.get("logits"), exp.get("attention_mask"))).isLessThanOrEqualTo(1e-5);
    }
}
