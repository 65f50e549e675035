package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * The applicable checks of PEFT's common test battery ({@code tests/testing_common.py PeftCommonTester}, listed in
 * shared/reference/peft.md §10) for every prompt-learning method on the tiny Llama GQA and GPT-2 fixture models:
 * parameter counts, trainable names, the print line and the saved {@code adapter_config.json} equal PEFT 0.21.2's
 * ({@code interop/fixtures/battery/cases.json}, made by {@code interop/make_battery_fixtures.py}); the adapter changes
 * the base model's logits and {@code disableAdapter} gives them back; save then load gives the same logits and PEFT's loaded counts,
 * without missing keys; saving twice gives identical files; loading as trainable is refused with PEFT's message; the
 * config round-trips; a training step gives a gradient to every prompt-encoder parameter and to no base parameter.
 */
class PromptLearningBatteryTest {
    private static final Tensor IDS = Tensor.of(new long[] {5, 9, 17, 2, 44, 6, 31, 8, 20, 21, 22, 23}, 2, 6);
    private static final Tensor MASK = Tensor.of(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2, 6);
    private static final Tensor LABELS = Tensor.of(new long[] {5, 9, 17, 2, 44, 6, 31, 8, 20, 21, -100, -100}, 2, 6);

    static JsonObject cases() throws Exception {
        return Fixtures.json(Fixtures.root().resolve("battery").resolve("cases.json")).getAsJsonObject("cases");
    }

    static Stream<String> caseNames() throws Exception {
        return new ArrayList<>(cases().keySet()).stream();
    }

    /** The same configuration as the fixture script's, built with peft4j's builders. */
    static PromptLearningConfig config(String name) {
        String method = name.substring(0, name.lastIndexOf(name.endsWith("llama-gqa") ? "-llama-gqa" : "-gpt2"));
        return switch (method) {
            case "prefix" -> new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM);
            case "prefix-proj" -> new PrefixTuningConfig(3).prefixProjection(true).encoderHiddenSize(16)
                    .taskType(TaskType.CAUSAL_LM);
            case "prompt" -> new PromptTuningConfig(4).taskType(TaskType.CAUSAL_LM);
            case "ptun-mlp" -> new PromptEncoderConfig(4).encoderHiddenSize(24).taskType(TaskType.CAUSAL_LM);
            case "ptun-lstm" -> new PromptEncoderConfig(4).encoderHiddenSize(16)
                    .encoderReparameterizationType(PromptEncoderReparameterizationType.LSTM)
                    .taskType(TaskType.CAUSAL_LM);
            default -> throw new IllegalArgumentException(name);
        };
    }

    static PreTrainedModel base(JsonObject c) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model(c.get("model").getAsString()));
    }

    static TreeSet<String> trainableNames(PeftModel pm) {
        TreeSet<String> out = new TreeSet<>();
        pm.namedParameters().forEach((k, p) -> {
            if (p.trainable()) {
                out.add(k);
            }
        });
        return out;
    }

    static TreeSet<String> strings(JsonElement array) {
        TreeSet<String> out = new TreeSet<>();
        array.getAsJsonArray().forEach(e -> out.add(e.getAsString()));
        return out;
    }

    /**
     * Moves every trainable parameter away from its (seeded) initial value, as PEFT's battery uses non-default
     * weights, so a save/load that dropped the weights and re-initialised them would be seen.
     */
    static void perturb(PeftModel pm) {
        java.util.Random rnd = new java.util.Random(13);
        pm.namedParameters().values().stream().filter(p -> p.trainable()).forEach(p -> {
            float[] v = p.data().toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] += (float) (0.3 * rnd.nextGaussian());
            }
            p.data().writeFloats(v);
        });
    }

    static double maxDiff(Tensor a, Tensor b) {
        return PtuneFixtures.maskedMaxAbsDiff(a, b, MASK);
    }

    @ParameterizedTest
    @MethodSource("caseNames")
    void countsAndTrainableNamesArePeftsAndBaseIsFrozen(String name) throws Exception {
        JsonObject c = cases().getAsJsonObject(name);
        PeftModel pm = Peft.getPeftModel(base(c), config(name));
        assertThat(pm.getNbTrainableParameters()).as("%s: get_nb_trainable_parameters", name)
                .containsExactly(c.get("trainable").getAsLong(), c.get("all").getAsLong());
        assertThat(pm.printTrainableParameters()).as("%s: print_trainable_parameters", name)
                .isEqualTo(c.get("line").getAsString());
        assertThat(trainableNames(pm)).as("%s: requires_grad names", name).isEqualTo(strings(c.get("trainable_names")));
        // adapter_name: a named adapter's parameters carry the name
        PeftModel named = Peft.getPeftModel(base(c), config(name), "test-adapter");
        assertThat(trainableNames(named)).isNotEmpty().allMatch(k -> k.contains("test-adapter"));
    }

    @ParameterizedTest
    @MethodSource("caseNames")
    void trainingGivesGradientsToEveryEncoderParameterAndNoneToTheBase(String name) throws Exception {
        JsonObject c = cases().getAsJsonObject(name);
        PeftModel pm = Peft.getPeftModel(base(c), config(name));
        Map<String, float[]> baseBefore = new java.util.LinkedHashMap<>();
        pm.namedParameters().forEach((k, p) -> {
            if (!k.startsWith("prompt_encoder.")) {
                assertThat(p.trainable()).as("%s: base parameter %s frozen", name, k).isFalse();
                baseBefore.put(k, p.data().toFloatArray());
            }
        });
        try (TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
            TrainStep.Output out = step.run(new Batch(IDS, MASK, LABELS));
            assertThat(Double.isFinite(out.loss())).isTrue();
            // training_prompt_learning_tasks: every prompt-encoder parameter has a (non-zero) gradient; base: none
            assertThat(new TreeSet<>(out.gradients().keySet())).as("%s: parameters with gradients", name)
                    .isEqualTo(strings(c.get("trainable_names")));
            out.gradients().forEach((k, g) -> {
                double norm = 0;
                for (float v : g.toFloatArray()) {
                    norm += Math.abs(v);
                }
                assertThat(norm).as("%s: gradient of %s", name, k).isGreaterThan(0);
            });
        }
        pm.namedParameters().forEach((k, p) -> {
            if (baseBefore.containsKey(k)) {
                assertThat(p.data().toFloatArray()).as("%s: base parameter %s unchanged", name, k)
                        .containsExactly(baseBefore.get(k));
            }
        });
    }

    @ParameterizedTest
    @MethodSource("caseNames")
    void adapterChangesLogitsAndDisableAdapterGivesTheBaseModels(String name) throws Exception {
        JsonObject c = cases().getAsJsonObject(name);
        Tensor baseLogits = base(c).logits(IDS, MASK);
        PeftModel pm = Peft.getPeftModel(base(c), config(name));
        Tensor peft = pm.logits(IDS, MASK);
        assertThat(maxDiff(peft, baseLogits)).as("%s: the adapter changes the logits", name).isGreaterThan(1e-3);
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            assertThat(maxDiff(pm.logits(IDS, MASK), baseLogits)).as("%s: disabled = base", name)
                    .isLessThanOrEqualTo(1e-6);
        }
        assertThat(maxDiff(pm.logits(IDS, MASK), peft)).as("%s: enabled again", name).isLessThanOrEqualTo(1e-6);
    }

    @ParameterizedTest
    @MethodSource("caseNames")
    void saveThenLoadGivesTheSameLogitsFrozenAndTheConfigRoundTrips(String name, @TempDir Path tmp)
            throws Exception {
        JsonObject c = cases().getAsJsonObject(name);
        PeftModel pm = Peft.getPeftModel(base(c), config(name));
        perturb(pm);
        Tensor before = pm.logits(IDS, MASK);
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        pm.savePretrained(a);
        pm.savePretrained(b);
        // saving twice gives identical files
        for (String f : new String[] {"adapter_model.safetensors", "adapter_config.json", "README.md"}) {
            assertThat(Files.readAllBytes(b.resolve(f))).as("%s: %s saved twice", name, f)
                    .isEqualTo(Files.readAllBytes(a.resolve(f)));
        }
        assertThat(a.resolve("model.safetensors")).doesNotExist();
        assertThat(a.resolve("config.json")).doesNotExist();
        assertThat(a.resolve("README.md")).content().contains("library_name: peft");

        // the saved config is PEFT's (its machine path and build version aside) and round-trips
        JsonObject saved = Fixtures.json(a.resolve("adapter_config.json"));
        assertThat(saved.has("base_model_name_or_path")).isTrue();
        JsonObject compared = saved.deepCopy();
        compared.remove("base_model_name_or_path");
        compared.remove("peft_version");
        assertThat(compared).as("%s: adapter_config.json", name).isEqualTo(c.getAsJsonObject("adapter_config"));
        assertThat(JsonParser.parseString(PeftConfigs.fromPretrained(a).toJson())).as("%s: config round trip", name)
                .isEqualTo(saved);

        // from_pretrained (is_trainable=False): inference mode, same logits, no missing keys
        PeftModel loaded = PeftModel.fromPretrained(base(c), a);
        assertThat(loaded.activePeftConfig().inferenceMode()).isTrue();
        // in inference mode the encoder keeps only its embedding: PEFT's parameter count after from_pretrained
        assertThat(loaded.getNbTrainableParameters()[1]).as("%s: loaded all params", name)
                .isEqualTo(c.get("loaded_all").getAsLong());
        // PEFT 0.21.2 leaves requires_grad=True on the loaded prompt embedding (loaded_trainable is the embedding's
        // size) although the adapter is in inference mode; peft4j counts it as PEFT does
        assertThat(c.get("loaded_trainable").getAsLong()).isPositive();
        assertThat(loaded.getNbTrainableParameters()).as("%s: loaded get_nb_trainable_parameters", name)
                .containsExactly(c.get("loaded_trainable").getAsLong(), c.get("loaded_all").getAsLong());
        assertThat(trainableNames(loaded)).as("%s: loaded trainable names", name)
                .containsExactly("prompt_encoder.default.embedding.weight");
        long lt = c.get("loaded_trainable").getAsLong();
        long la = c.get("loaded_all").getAsLong();
        assertThat(loaded.printTrainableParameters()).as("%s: loaded print_trainable_parameters", name)
                .isEqualTo(String.format(java.util.Locale.ROOT,
                        "trainable params: %,d || all params: %,d || trainable%%: %.4f", lt, la, 100.0 * lt / la));
        // the projection's output is saved (as PEFT saves it), not recomputed: float rounding (1.1e-5 seen)
        double tol = name.startsWith("prefix-proj") ? 1e-4 : 1e-6; // 1e-4: PEFT's inference_safetensors
        assertThat(maxDiff(loaded.logits(IDS, MASK), before)).as("%s: logits after save/load", name)
                .isLessThanOrEqualTo(tol);
        Module.LoadResult r = loaded.loadAdapter(a, "other", false);
        assertThat(r.missingKeys()).as("%s: missing keys", name).isEmpty();
        assertThat(r.unexpectedKeys()).as("%s: unexpected keys", name).isEmpty();

        // PEFT refuses a trainable prompt-learning adapter from from_pretrained
        assertThatThrownBy(() -> PeftModel.fromPretrained(base(c), a, "default", true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Cannot set a prompt learning adapter to trainable when loading pretrained adapter.");
        // and from load_adapter for a new adapter (_check_new_adapter_config), before anything is added
        assertThatThrownBy(() -> loaded.loadAdapter(a, "trainable", true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Cannot set a prompt learning adapter to trainable when loading pretrained adapter.");
        assertThat(loaded.peftConfig()).containsOnlyKeys("default", "other");
    }
}
