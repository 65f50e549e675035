package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** The config against PEFT's (interop/fixtures/prefix/configs.json) and the tuner's edges. */
class PrefixTuningConfigTest {
    static JsonObject configs() throws Exception {
        return Fixtures.json(Fixtures.root().resolve("prefix").resolve("configs.json"));
    }

    @Test
    void defaultsAreWrittenAsPeftWritesThem() throws Exception {
        JsonObject want = configs().getAsJsonObject("defaults");
        JsonObject got = new PrefixTuningConfig().toJsonObject();
        want.remove("peft_version");
        got.remove("peft_version");
        assertThat(got).isEqualTo(want);
    }

    @Test
    void fieldsAreFilledFromEachModelConfigAsPeftFillsThem() throws Exception {
        for (Map.Entry<String, com.google.gson.JsonElement> e : configs().getAsJsonObject("filled").entrySet()) {
            String model = e.getKey().replace("-ehs7", "");
            PrefixTuningConfig c = new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM);
            if (e.getKey().endsWith("-ehs7")) {
                c.encoderHiddenSize(7);
            }
            c.prepareFor(ModelConfig.load(Fixtures.model(model).resolve("config.json")));
            JsonObject want = e.getValue().getAsJsonObject();
            JsonObject got = c.toJsonObject();
            for (String k : want.keySet()) {
                assertThat(got.get(k)).as(e.getKey() + " " + k).isEqualTo(want.get(k));
            }
            // preparing a prepared (or loaded) config again changes nothing, as in PEFT
            JsonObject once = c.toJsonObject();
            c.prepareFor(ModelConfig.load(Fixtures.model(model).resolve("config.json")));
            assertThat(c.toJsonObject()).isEqualTo(once);
        }
    }

    @Test
    void theCopyIsDeepAndEqual() {
        PrefixTuningConfig c = new PrefixTuningConfig(5).prefixProjection(true).encoderHiddenSize(9)
                .initWeights("zero").taskType(TaskType.CAUSAL_LM);
        PrefixTuningConfig d = c.copy();
        assertThat(d.toJsonObject()).isEqualTo(c.toJsonObject());
        d.prefixProjection(false);
        assertThat(c.prefixProjection()).isTrue();
        assertThat(PeftConfigs.fromJson(c.toJsonObject(), "test").toJsonObject()).isEqualTo(c.toJsonObject());
    }

    @Test
    void zeroInitZeroesThePrefixOrTheLastLinear() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        PeftModel plain = Peft.getPeftModel(m, new PrefixTuningConfig(2).initWeights("zero"));
        assertThat(plain.namedParameters().get("prompt_encoder.default.embedding.weight").data().toFloatArray())
                .containsOnly(0f);
        PeftModel proj = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2")),
                new PrefixTuningConfig(2).initWeights("zero").prefixProjection(true));
        assertThat(proj.namedParameters().get("prompt_encoder.default.transform.2.weight").data().toFloatArray())
                .containsOnly(0f);
        assertThat(proj.namedParameters().get("prompt_encoder.default.transform.2.bias").data().toFloatArray())
                .containsOnly(0f);
        assertThat(proj.namedParameters().get("prompt_encoder.default.transform.0.weight").data().toFloatArray())
                .isNotEqualTo(new float[32 * 32]);
        assertThat(proj.getPeftModelStateDict("default").get("prompt_embeddings").toFloatArray()).containsOnly(0f);
    }

    @Test
    void refusesGradientCheckpointingAsPeft() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa"));
        m.gradientCheckpointingEnable();
        assertThatThrownBy(() -> Peft.getPeftModel(m, new PrefixTuningConfig(3)))
                .hasMessage("PREFIX_TUNING does not work with gradient checkpointing.");
    }

    /** A step built with checkpointing turned on after the adapter was added still gives the plain step's numbers. */
    @Test
    void aCheckpointedStepAfterwardsGivesThePlainStepsGradients() throws Exception {
        PeftModel pm = PrefixInteropTest.fresh("llama-gqa");
        try (SafeTensors ref = SafeTensors.open(PrefixCases.dir("llama-gqa").resolve("expected.safetensors"))) {
            org.peft4j.data.Batch b = new org.peft4j.data.Batch(ref.get("input_ids"), ref.get("attention_mask"),
                    ref.get("labels"));
            pm.gradientCheckpointingEnable();
            try (org.peft4j.train.TrainStep step = new org.peft4j.train.TrainStep(pm,
                    org.peft4j.runtime.OrtRuntime.shared())) {
                org.peft4j.train.TrainStep.Output out = step.run(b);
                String n = "prompt_encoder.default.embedding.weight";
                assertThat(PrefixCases.relativeL2(out.gradients().get(n).toFloatArray(), ref.get("grad." + n)
                        .toFloatArray())).isLessThan(1e-4);
            }
        }
    }

    @Test
    void disablingTheAdapterGivesTheBaseModel() throws Exception {
        Path dir = PrefixCases.dir("llama-gqa");
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa")),
                dir.resolve("adapter"));
        try (SafeTensors ref = SafeTensors.open(dir.resolve("expected.safetensors"));
                PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            Tensor logits = pm.logits(ref.get("input_ids"), ref.get("attention_mask"));
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("base_logits").toFloatArray()))
                    .isLessThan(1e-4);
        }
    }

    @Test
    void refusesAPrefixThatDoesNotFitAndProjectedWeightsForATrainableProjection(@TempDir Path tmp)
            throws Exception {
        PreTrainedModel gpt2 = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        // an adapter made for llama-gqa (token_dim 48, 2 heads) on gpt2 (4 heads of 8)
        assertThatThrownBy(() -> PeftModel.fromPretrained(gpt2, PrefixCases.dir("llama-gqa").resolve("adapter")))
                .hasMessageContaining("does not fit the model's key/value cache");
        PeftModel pm = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa")),
                new PrefixTuningConfig(3).prefixProjection(true).encoderHiddenSize(16));
        assertThatThrownBy(() -> pm.loadAdapter(PrefixCases.dir("llama-gqa-projection").resolve("adapter"), "other",
                true)).hasMessageContaining("Cannot load flattened prompt embeddings when `prefix_projection=True`.");
        // a config of 5 virtual tokens over a file of 3: torch's size-mismatch message
        Path bad = tmp.resolve("bad");
        java.nio.file.Files.createDirectories(bad);
        Path src = PrefixCases.dir("llama-gqa").resolve("adapter");
        java.nio.file.Files.copy(src.resolve("adapter_model.safetensors"), bad.resolve("adapter_model.safetensors"));
        java.nio.file.Files.writeString(bad.resolve("adapter_config.json"), java.nio.file.Files.readString(
                src.resolve("adapter_config.json")).replace("\"num_virtual_tokens\": 3", "\"num_virtual_tokens\": 5"));
        assertThatThrownBy(() -> PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(
                "llama-gqa")), bad)).hasMessageContaining("size mismatch for weight: copying a param with shape "
                + "torch.Size([3, 192]) from checkpoint, the shape in current model is torch.Size([5, 192]).");
    }
}
