package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.TaskType;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * Prefix tuning against PEFT 0.21.2 + transformers 5.23 (interop/make_prefix_fixtures.py): adapters PEFT saved load
 * to PEFT's logits, a fresh adapter with PEFT's parameter values gives PEFT's logits, loss and gradients, greedy
 * generation with the cache gives PEFT's tokens, and what peft4j saves is what PEFT saved.
 */
class PrefixInteropTest {
    static PreTrainedModel base(String c) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model(PrefixCases.info(c).get("model").getAsString()));
    }

    static SafeTensors expected(String c) throws Exception {
        return SafeTensors.open(PrefixCases.dir(c).resolve("expected.safetensors"));
    }

    /** A fresh adapter configured as the case and holding PEFT's trainable parameter values. */
    static PeftModel fresh(String c) throws Exception {
        JsonObject saved = Fixtures.json(PrefixCases.dir(c).resolve("adapter").resolve("adapter_config.json"));
        PrefixTuningConfig cfg = new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM);
        if (saved.get("prefix_projection").getAsBoolean()) {
            cfg.prefixProjection(true).encoderHiddenSize(16);
        }
        PeftModel pm = Peft.getPeftModel(base(c), cfg);
        try (SafeTensors ref = expected(c)) {
            for (JsonElement n : PrefixCases.info(c).getAsJsonArray("trainable_names")) {
                Parameter p = pm.namedParameters().get(n.getAsString());
                assertThat(p).as(n.getAsString()).isNotNull();
                assertThat(p.shape()).containsExactly(ref.get("param." + n.getAsString()).shape());
                p.setData(ref.get("param." + n.getAsString()).copy());
            }
        }
        return pm;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2", "qwen2", "llama-gqa-projection", "gpt2-projection"})
    void configIsFilledAsPeftFillsItAndParametersAreCountedAsPeft(String c) throws Exception {
        PeftModel pm = fresh(c);
        JsonObject info = PrefixCases.info(c);
        JsonObject peft = Fixtures.json(PrefixCases.dir(c).resolve("adapter").resolve("adapter_config.json"));
        PrefixTuningConfig cfg = (PrefixTuningConfig) pm.activePeftConfig();
        for (String k : List.of("num_virtual_tokens", "token_dim", "num_transformer_submodules",
                "num_attention_heads", "num_layers", "encoder_hidden_size", "prefix_projection", "init_weights",
                "modules_to_save", "peft_type", "task_type")) {
            assertThat(JsonParser.parseString(cfg.toJson()).getAsJsonObject().get(k)).as(k).isEqualTo(peft.get(k));
        }
        List<String> trainable = new ArrayList<>();
        pm.namedParameters().forEach((n, p) -> {
            if (p.trainable()) {
                trainable.add(n);
            }
        });
        List<String> want = new ArrayList<>();
        info.getAsJsonArray("trainable_names").forEach(e -> want.add(e.getAsString()));
        assertThat(trainable).containsExactlyElementsOf(want);
        assertThat(pm.getNbTrainableParameters()).containsExactly(info.get("trainable").getAsLong(),
                info.get("all").getAsLong());
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2", "qwen2", "llama-gqa-projection", "gpt2-projection"})
    void configJsonReadsAndWritesAsPeft(String c, @TempDir Path tmp) throws Exception {
        Path dir = PrefixCases.dir(c).resolve("adapter");
        PeftConfig cfg = PeftConfigs.fromPretrained(dir);
        assertThat(cfg).isInstanceOf(PrefixTuningConfig.class);
        assertThat(JsonParser.parseString(cfg.toJson())).isEqualTo(Fixtures.json(dir.resolve("adapter_config.json")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2", "qwen2", "llama-gqa-projection", "gpt2-projection"})
    void peftSavedAdapterLoadsToPeftsLogits(String c) throws Exception {
        PeftModel pm = PeftModel.fromPretrained(base(c), PrefixCases.dir(c).resolve("adapter"));
        try (SafeTensors ref = expected(c)) {
            float[] got = pm.logits(ref.get("input_ids"), ref.get("attention_mask")).toFloatArray();
            assertThat(Fixtures.maxAbsDiff(got, ref.get("loaded_logits").toFloatArray())).isLessThan(1e-4);
            assertThat(Fixtures.maxAbsDiff(got, ref.get("base_logits").toFloatArray())).as("the prefix matters")
                    .isGreaterThan(1e-2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2", "qwen2", "llama-gqa-projection", "gpt2-projection"})
    void trainableAdapterGivesPeftsLogitsLossAndGradients(String c) throws Exception {
        PeftModel pm = fresh(c);
        try (SafeTensors ref = expected(c)) {
            Tensor ids = ref.get("input_ids");
            Tensor mask = ref.get("attention_mask");
            Tensor labels = ref.get("labels");
            assertThat(Fixtures.maxAbsDiff(pm.logits(ids, mask).toFloatArray(), ref.get("logits").toFloatArray()))
                    .isLessThan(1e-4);
            PrefixCases.Grads gr = PrefixCases.gradients(pm, ids, mask, labels);
            double loss = ref.get("loss").getFloat(0);
            assertThat(gr.loss).isCloseTo(loss, within(1e-4 * Math.abs(loss)));
            assertThat(gr.gradients.keySet()).containsExactlyElementsOf(PrefixCases.info(c).getAsJsonArray(
                    "trainable_names").asList().stream().map(JsonElement::getAsString).toList());
            for (Map.Entry<String, float[]> e : gr.gradients.entrySet()) {
                assertThat(PrefixCases.relativeL2(e.getValue(), ref.get("grad." + e.getKey()).toFloatArray()))
                        .as(e.getKey()).isLessThan(1e-4);
            }
        }
    }

    /** Llama has no dropout, so the real training step (TrainStep) must give PEFT's loss and gradients too. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2", "llama-gqa-projection"})
    void theTrainingStepGivesPeftsLossAndGradients(String c) throws Exception {
        PeftModel pm = fresh(c);
        try (SafeTensors ref = expected(c); TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
            TrainStep.Output out = step.run(new Batch(ref.get("input_ids"), ref.get("attention_mask"),
                    ref.get("labels")));
            double loss = ref.get("loss").getFloat(0);
            assertThat(out.loss()).isCloseTo(loss, within(1e-4 * Math.abs(loss)));
            assertThat(out.gradients()).hasSize(PrefixCases.info(c).getAsJsonArray("trainable_names").size());
            for (Map.Entry<String, Tensor> e : out.gradients().entrySet()) {
                assertThat(PrefixCases.relativeL2(e.getValue().toFloatArray(), ref.get("grad." + e.getKey())
                        .toFloatArray())).as(e.getKey()).isLessThan(1e-4);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2", "qwen2", "llama-gqa-projection", "gpt2-projection"})
    void greedyGenerationWithTheCacheGivesPeftsTokens(String c) throws Exception {
        GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(6).padTokenId(0L).build();
        try (SafeTensors ref = expected(c)) {
            long[][] want = PrefixCases.rows(ref.get("generated"));
            long[][] ids = PrefixCases.rows(ref.get("gen_input_ids"));
            long[][] mask = PrefixCases.rows(ref.get("gen_attention_mask"));
            PeftModel loaded = PeftModel.fromPretrained(base(c), PrefixCases.dir(c).resolve("adapter"));
            assertThat(loaded.generate(ids, mask, greedy)).isDeepEqualTo(want);
            assertThat(fresh(c).generate(ids, mask, greedy)).as("the trainable encoder").isDeepEqualTo(want);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2", "qwen2", "llama-gqa-projection", "gpt2-projection"})
    void savesWhatPeftSaves(String c, @TempDir Path tmp) throws Exception {
        PeftModel pm = fresh(c);
        pm.savePretrained(tmp);
        try (SafeTensors got = SafeTensors.open(tmp.resolve("adapter_model.safetensors"));
                SafeTensors want = SafeTensors.open(PrefixCases.dir(c).resolve("adapter")
                        .resolve("adapter_model.safetensors"))) {
            assertThat(got.keys()).containsExactlyInAnyOrderElementsOf(want.keys());
            assertThat(got.get("prompt_embeddings").shape()).containsExactly(want.get("prompt_embeddings").shape());
            assertThat(Fixtures.maxAbsDiff(got.get("prompt_embeddings").toFloatArray(),
                    want.get("prompt_embeddings").toFloatArray())).isLessThan(1e-5);
        }
        JsonObject mine = Fixtures.json(tmp.resolve("adapter_config.json"));
        JsonObject peft = Fixtures.json(PrefixCases.dir(c).resolve("adapter").resolve("adapter_config.json"));
        for (String k : List.of("base_model_name_or_path", "peft_version")) {
            mine.remove(k);
            peft.remove(k);
        }
        assertThat(mine).isEqualTo(peft);
        // and it loads back to the trainable adapter's logits
        PeftModel back = PeftModel.fromPretrained(base(c), tmp);
        try (SafeTensors ref = expected(c)) {
            assertThat(Fixtures.maxAbsDiff(back.logits(ref.get("input_ids"), ref.get("attention_mask"))
                    .toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(1e-4);
        }
    }
}
