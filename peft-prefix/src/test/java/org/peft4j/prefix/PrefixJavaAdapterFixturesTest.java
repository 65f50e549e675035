package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * Java -> Python: prefix adapters trained and saved by peft4j ({@code interop/fixtures/prefix/java-adapters/<case>/},
 * written by {@link #regenerate} with {@code -Dpeft4j.writePrefixAdapters=true}) were loaded by PEFT 0.21.2 with
 * {@code interop/check_prefix_java_adapters.py}, which recorded in {@code report.json} whether PEFT reproduced
 * Java's logits (1e-4) and greedy generations. This test holds that report to the committed files.
 */
class PrefixJavaAdapterFixturesTest {
    static final String[] CASES = {"llama-gqa", "gpt2", "llama-gqa-projection", "gpt2-projection"};
    static final GenerationConfig GREEDY = GenerationConfig.builder().maxNewTokens(6).padTokenId(0L).build();

    static Path root() {
        return Fixtures.root().resolve("prefix").resolve("java-adapters");
    }

    static Stream<String> cases() {
        return Stream.of(CASES);
    }

    /** Rewrites the committed fixtures: a few Trainer steps on a fresh adapter, then save, logits, generation. */
    @Test
    @EnabledIfSystemProperty(named = "peft4j.writePrefixAdapters", matches = "true")
    void regenerate() throws Exception {
        for (String c : CASES) {
            String model = c.replace("-projection", "");
            PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
            PrefixTuningConfig cfg = new PrefixTuningConfig(4).taskType(TaskType.CAUSAL_LM);
            if (c.endsWith("-projection")) {
                cfg.prefixProjection(true).encoderHiddenSize(8);
            }
            PeftModel pm = Peft.getPeftModel(base, cfg);
            // as the PEFT fixtures: a repository-relative name instead of this machine's path
            pm.activePeftConfig().setBaseModelNameOrPath("interop/fixtures/models/" + model);
            long[] ids = {5, 9, 17, 23, 44, 6, 31, 8, 0, 0, 20, 21, 22, 23, 24, 25};
            long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
            long[] labels = ids.clone();
            labels[8] = -100;
            labels[9] = -100;
            Batch batch = new Batch(Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8), Tensor.of(labels, 2, 8));
            Path tmp = Files.createTempDirectory("prefix-train");
            TrainingArguments args = TrainingArguments.builder(tmp).learningRate(1e-2).maxSteps(5).saveSteps(1000)
                    .loggingSteps(5).build();
            new Trainer(pm, args, OrtRuntime.shared()).showProgress(false).train(List.of(batch));
            Path dir = root().resolve(c);
            pm.savePretrained(dir.resolve("adapter"));
            Map<String, Tensor> exp = new LinkedHashMap<>();
            exp.put("input_ids", batch.inputIds());
            exp.put("attention_mask", batch.attentionMask());
            exp.put("logits", pm.logits(batch.inputIds(), batch.attentionMask()));
            long[][] gen = {{7, 12, 30, 4, 19}, {0, 14, 15, 16, 17}};
            long[][] gmask = {{1, 1, 1, 1, 1}, {0, 1, 1, 1, 1}};
            long[][] out = pm.generate(gen, gmask, GREEDY);
            exp.put("gen_input_ids", flat(gen));
            exp.put("gen_attention_mask", flat(gmask));
            exp.put("generated", flat(out));
            SafeTensorsWriter.write(dir.resolve("expected.safetensors"), exp, SafeTensorsWriter.PT_METADATA);
            Files.writeString(dir.resolve("case.json"), "{\n  \"model\": \"" + model + "\"\n}\n",
                    StandardCharsets.UTF_8);
        }
    }

    private static Tensor flat(long[][] rows) {
        int m = rows[0].length;
        long[] f = new long[rows.length * m];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, f, i * m, m);
        }
        return Tensor.of(f, rows.length, m);
    }

    static JsonObject report() throws Exception {
        return Fixtures.json(root().resolve("report.json"));
    }

    @Test
    void reportCoversEveryCaseWithPeft0212() throws Exception {
        assertThat(report().getAsJsonObject("cases").keySet()).containsExactlyInAnyOrder(CASES);
        assertThat(report().get("peft_version").getAsString()).isEqualTo("0.21.2");
        assertThat(report().get("tolerance").getAsDouble()).isLessThanOrEqualTo(1e-4);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void peftLoadedJavasAdapterWithJavasLogitsAndGenerations(String c) throws Exception {
        JsonObject r = report().getAsJsonObject("cases").getAsJsonObject(c);
        assertThat(r.get("error").isJsonNull()).as(c + ": " + r.get("error")).isTrue();
        assertThat(r.getAsJsonArray("missing_keys")).as(c).isEmpty();
        assertThat(r.getAsJsonArray("unexpected_keys")).as(c).isEmpty();
        assertThat(r.get("max_abs_diff").getAsDouble()).as(c).isLessThanOrEqualTo(1e-4);
        assertThat(r.get("generation_equal").getAsBoolean()).as(c).isTrue();
        assertThat(r.get("passed").getAsBoolean()).as(c).isTrue();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void reportIsAboutTheCommittedFiles(String c) throws Exception {
        Map<String, String> reported = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : report().getAsJsonObject("cases").getAsJsonObject(c)
                .getAsJsonObject("files_sha256").entrySet()) {
            reported.put(e.getKey(), e.getValue().getAsString());
        }
        Map<String, String> now = new TreeMap<>();
        Path dir = root().resolve(c);
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toArray(Path[]::new)) {
                byte[] h = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                now.put(dir.relativize(p).toString().replace('\\', '/'), HexFormat.of().formatHex(h));
            }
        }
        assertThat(now).as(c + ": files differ from those PEFT checked; run interop/check_prefix_java_adapters.py")
                .isEqualTo(reported);
    }

    /** And Java itself reloads what it saved to the logits it recorded (inference-mode encoder, no projection). */
    @ParameterizedTest
    @MethodSource("cases")
    void javaReloadsItsAdapterToTheRecordedLogits(String c) throws Exception {
        Path dir = root().resolve(c);
        String model = Fixtures.json(dir.resolve("case.json")).get("model").getAsString();
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(model)),
                dir.resolve("adapter"));
        try (SafeTensors exp = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            assertThat(Fixtures.maxAbsDiff(pm.logits(exp.get("input_ids"), exp.get("attention_mask"))
                    .toFloatArray(), exp.get("logits").toFloatArray())).isLessThan(1e-4);
        }
    }
}
