package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Java → Python for QLoRA: the adapter peft4j trained on the 4-bit tiny Llama ({@code interop/fixtures/layer/
 * java-qlora}, written by {@link QloraJavaAdapterFixture}) was loaded by PEFT 0.21.2 on the bitsandbytes 4-bit base
 * ({@code interop/check_layer_java_adapter.py}), which recorded its verdict in {@code report.json}. The report must
 * name exactly the committed files (sha256), pass with PEFT's logits within 1e-4 of peft4j's through
 * {@code lora.bnb.Linear4bit} layers with no missing or unexpected key; peft4j reloading the adapter reproduces the
 * committed logits.
 */
class QloraJavaToPythonTest {
    @Test
    void peftReproducesPeft4jLogitsOnTheBnbBase() throws Exception {
        Path dir = QloraJavaAdapterFixture.dir();
        JsonObject rep = Fixtures.json(dir.resolve("report.json"));
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(p).toString().replace('\\', '/');
                if (!rel.equals("report.json")) {
                    files.put(rel, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(
                            Files.readAllBytes(p))));
                }
            }
        }
        Map<String, String> reported = new TreeMap<>();
        rep.getAsJsonObject("files_sha256").entrySet().forEach(e -> reported.put(e.getKey(), e.getValue()
                .getAsString()));
        assertThat(reported).isEqualTo(files);
        assertThat(rep.get("lora_type").getAsString()).isEqualTo("peft.tuners.lora.bnb.Linear4bit");
        assertThat(rep.get("passed").getAsBoolean()).isTrue();
        assertThat(rep.get("max_abs_diff").getAsDouble()).isLessThanOrEqualTo(1e-4);
        assertThat(rep.getAsJsonArray("missing_keys")).isEmpty();
        assertThat(rep.getAsJsonArray("unexpected_keys")).isEmpty();

        Map<String, Tensor> exp = LayerFixtures.read(dir.resolve("expected.safetensors"));
        PeftModel pm = PeftModel.fromPretrained(QloraFixture.base4bit(), dir.resolve("adapter"));
        Tensor mask = exp.get("attention_mask");
        assertThat(QloraFixture.maxDiffOnTokens(pm.logits(exp.get("input_ids"), mask), exp.get("logits"), mask))
                .isLessThan(1e-5);
    }
}
