package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
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
        JsonObject got = JsonParser.parseString(new PrefixTuningConfig().toJson()).getAsJsonObject();
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
            JsonObject got = JsonParser.parseString(c.toJson()).getAsJsonObject();
            for (String k : want.keySet()) {
                assertThat(got.get(k)).as(e.getKey() + " " + k).isEqualTo(want.get(k));
            }
            // preparing a prepared (or loaded) config again changes nothing, as in PEFT
            JsonObject once = JsonParser.parseString(c.toJson()).getAsJsonObject();
            c.prepareFor(ModelConfig.load(Fixtures.model(model).resolve("config.json")));
            assertThat(JsonParser.parseString(c.toJson()).getAsJsonObject()).isEqualTo(once);
        }
    }

    @Test
    void theCopyIsDeepAndEqual() {
        PrefixTuningConfig c = new PrefixTuningConfig(5).prefixProjection(true).encoderHiddenSize(9)
                .initWeights("zero").taskType(TaskType.CAUSAL_LM);
        PrefixTuningConfig d = c.copy();
        assertThat(JsonParser.parseString(d.toJson())).isEqualTo(JsonParser.parseString(c.toJson()));
        d.prefixProjection(false);
        assertThat(c.prefixProjection()).isTrue();
        assertThat(JsonParser.parseString(PeftConfigs.fromJson(c.toJson(), "test").toJson()))
                .isEqualTo(JsonParser.parseString(c.toJson()));
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
    void everyOpOfTheTrainingAndDecodingGraphsHasACudaKernel() throws Exception {
        PeftModel pm = PrefixInteropTest.fresh("llama-gqa-projection");
        java.util.Set<String> ops = new java.util.TreeSet<>();
        try (org.peft4j.train.TrainStep step = new org.peft4j.train.TrainStep(pm,
                org.peft4j.runtime.OrtRuntime.shared())) {
            step.graph().nodes().forEach(n -> ops.add(org.peft4j.autodiff.Ops.key(n.domain(), n.opType())));
        }
        new org.peft4j.generation.Generator(pm).decodingGraph().nodes().forEach(n -> ops.add(
                org.peft4j.autodiff.Ops.key(n.domain(), n.opType())));
        assertThat(ops).contains("Tanh", "Gather", "Expand", "Slice").allSatisfy(op -> assertThat(
                org.peft4j.autodiff.Ops.all().stream().anyMatch(d -> org.peft4j.autodiff.Ops.key(d.domain(),
                        d.opType()).equals(op) && d.hasCudaKernel())).as("%s has a CUDA kernel", op).isTrue());
    }

    /** A float16 base gets the prefix cast to float16 (get_prompt's {@code .to(base_model_torch_dtype)}). */
    @Test
    void aFloat16BaseGetsTheFloat32PrefixCastAndPeftsFloat16Logits() throws Exception {
        Path dir = PrefixCases.dir("llama-gqa");
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa"),
                org.peft4j.tensor.DType.F16), dir.resolve("adapter"));
        assertThat(pm.namedParameters().get("prompt_encoder.default.embedding.weight").dtype())
                .isEqualTo(org.peft4j.tensor.DType.F32);
        try (SafeTensors ref = SafeTensors.open(dir.resolve("f16.safetensors"))) {
            Tensor ids;
            Tensor mask;
            try (SafeTensors e = SafeTensors.open(dir.resolve("expected.safetensors"))) {
                ids = e.get("input_ids").copy();
                mask = e.get("attention_mask").copy();
            }
            Tensor got = pm.logits(ids, mask);
            float[] g = got.toFloatArray();
            float[] w = ref.get("loaded_logits").toFloatArray();
            float[] bw = ref.get("base_logits").toFloatArray();
            float[] bg;
            try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
                bg = pm.logits(ids, mask).toFloatArray();
            }
            long[] m = mask.toLongArray();
            int v = g.length / m.length;
            double err = 0;
            double baseErr = 0;
            double effect = 0;
            for (int pos = 0; pos < m.length; pos++) {
                for (int k = 0; m[pos] == 1 && k < v; k++) {
                    int i = pos * v + k;
                    err = Math.max(err, Math.abs(g[i] - w[i]));
                    baseErr = Math.max(baseErr, Math.abs(bg[i] - bw[i]));
                    effect = Math.max(effect, Math.abs(w[i] - bw[i]));
                }
            }
            // the core's float16 graphs differ from torch's CPU float16 by ~10 ulp at |logit| ~15 (base 0.18 here):
            // the prefix must add nothing beyond that, and that must be far below the prefix's own effect
            assertThat(err).isLessThanOrEqualTo(2 * baseErr).isLessThan(effect / 10);
        }
    }

    /** Two PEFT adapters on one model: each, when active, gives its own PEFT logits (and generations). */
    @Test
    void switchingBetweenTwoLoadedPrefixAdapters() throws Exception {
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa")),
                PrefixCases.dir("llama-gqa").resolve("adapter"));
        pm.loadAdapter(PrefixCases.dir("llama-gqa-projection").resolve("adapter"), "proj", false);
        for (String[] c : new String[][] {{"proj", "llama-gqa-projection"}, {"default", "llama-gqa"}}) {
            pm.setAdapter(c[0]);
            try (SafeTensors ref = SafeTensors.open(PrefixCases.dir(c[1]).resolve("expected.safetensors"))) {
                assertThat(Fixtures.maxAbsDiff(pm.logits(ref.get("input_ids"), ref.get("attention_mask"))
                        .toFloatArray(), ref.get("loaded_logits").toFloatArray())).as(c[0]).isLessThan(1e-4);
                assertThat(pm.generate(PrefixCases.rows(ref.get("gen_input_ids")), PrefixCases.rows(ref.get(
                        "gen_attention_mask")), org.peft4j.generation.GenerationConfig.builder().maxNewTokens(6)
                        .padTokenId(0L).build())).as(c[0]).isDeepEqualTo(PrefixCases.rows(ref.get("generated")));
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
        // PEFT's load_adapter refuses a trainable prompt-learning adapter before it reads the weights
        assertThatThrownBy(() -> pm.loadAdapter(PrefixCases.dir("llama-gqa-projection").resolve("adapter"), "other",
                true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Cannot set a prompt learning adapter to trainable when loading pretrained adapter.");
        assertThat(pm.peftConfig()).containsOnlyKeys("default");
        // the flattened prefix cannot go into a projected (trainable) encoder
        assertThatThrownBy(() -> pm.tuner().loadAdapterStateDict(java.util.Map.of("prompt_embeddings",
                org.peft4j.tensor.Tensor.zeros(org.peft4j.tensor.DType.F32, 3, 2 * 2 * 48)), "default"))
                .hasMessageContaining("Cannot load flattened prompt embeddings when `prefix_projection=True`.");
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
