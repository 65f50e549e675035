package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Linear;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

class LoraModelTest {
    static Tensor ids() {
        return Tensor.of(new long[] {1, 5, 9, 17, 33, 65, 129, 3, 4, 7, 100, 200, 250, 8}, 2, 7);
    }

    static PreTrainedModel llama() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
    }

    static LoraConfig.Builder nonTrivial() {
        return LoraConfig.builder().r(8).loraAlpha(32).targetModules("q_proj", "v_proj").initLoraWeights(false);
    }

    @Test
    void trainableParameterCountsMatchPeftOnShapeOnlyRealConfigs() throws Exception {
        JsonObject counts = Fixtures.json(Fixtures.root().resolve("configs/counts.json"));
        int checked = 0;
        for (String name : counts.keySet()) {
            JsonObject c = counts.getAsJsonObject(name);
            if (!c.has("lora_example")) {
                continue;
            }
            JsonObject ex = c.getAsJsonObject("lora_example");
            PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(
                    Fixtures.root().resolve("configs/" + name + ".json")));
            List<String> targets = new java.util.ArrayList<>();
            ex.getAsJsonArray("target_modules").forEach(e -> targets.add(e.getAsString()));
            PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(ex.get("r").getAsInt())
                    .loraAlpha(ex.get("lora_alpha").getAsDouble()).targetModules(targets).build());
            long t = ex.get("trainable_parameters").getAsLong();
            long all = ex.get("all_parameters").getAsLong();
            assertThat(pm.getNbTrainableParameters()).containsExactly(t, all);
            assertThat(pm.printTrainableParameters()).isEqualTo(String.format(Locale.ROOT,
                    "trainable params: %,d || all params: %,d || trainable%%: %.4f", t, all, 100.0 * t / all));
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(1);
    }

    @Test
    void llama7bLineIsPeftsLine() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(
                Fixtures.root().resolve("configs/llama-2-7b.json")));
        PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(8).loraAlpha(16).targetModules("q_proj", "v_proj")
                .build());
        assertThat(pm.printTrainableParameters()).isEqualTo(
                "trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622");
    }

    @Test
    void disableMergeUnmergeAndUnloadAgree() throws Exception {
        PreTrainedModel m = llama();
        Tensor base = m.logits(ids(), null);
        PeftModel pm = Peft.getPeftModel(m, nonTrivial().build());
        Tensor lora = pm.logits(ids(), null);
        assertThat(Fixtures.maxAbsDiff(lora.toFloatArray(), base.toFloatArray())).isGreaterThan(1e-3);
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            assertThat(Fixtures.maxAbsDiff(pm.logits(ids(), null).toFloatArray(), base.toFloatArray()))
                    .isLessThan(1e-6);
        }
        assertThat(Fixtures.maxAbsDiff(pm.logits(ids(), null).toFloatArray(), lora.toFloatArray())).isLessThan(1e-6);
        pm.mergeAdapter();
        assertThat(Fixtures.maxAbsDiff(pm.logits(ids(), null).toFloatArray(), lora.toFloatArray())).isLessThan(1e-4);
        pm.unmergeAdapter();
        assertThat(Fixtures.maxAbsDiff(pm.logits(ids(), null).toFloatArray(), lora.toFloatArray())).isLessThan(1e-4);
        PreTrainedModel merged = pm.mergeAndUnload();
        assertThat(merged.getSubmodule("model.layers.0.self_attn.q_proj")).isInstanceOf(Linear.class);
        assertThat(merged.namedModules().values()).noneMatch(x -> x instanceof BaseTunerLayer);
        assertThat(Fixtures.maxAbsDiff(merged.logits(ids(), null).toFloatArray(), lora.toFloatArray()))
                .isLessThan(1e-4);
    }

    @Test
    void noMatchingTargetGivesPeftsError() throws Exception {
        assertThatThrownBy(() -> Peft.getPeftModel(llama(), LoraConfig.builder().targetModules("qkv").build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Target modules {'qkv'} not found in the base model. Please check the target modules and "
                        + "try again.");
    }

    @Test
    void parameterNamesFollowPeft() throws Exception {
        PeftModel pm = Peft.getPeftModel(llama(), nonTrivial().build());
        Map<String, ?> names = pm.namedParameters();
        assertThat(names).containsKeys(
                "base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
                "base_model.model.model.layers.1.self_attn.v_proj.lora_B.default.weight");
        assertThat(pm.getPeftModelStateDict("default").keySet()).containsExactlyInAnyOrder(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
                "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
                "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight",
                "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
        Path dir = java.nio.file.Files.createTempDirectory("lora");
        pm.savePretrained(dir);
        assertThat(dir.resolve("adapter_model.safetensors")).exists();
        assertThat(dir.resolve("adapter_config.json")).exists();
        assertThat(dir.resolve("README.md")).content().contains("library_name: peft").contains("- lora");
    }

    /** A layers_pattern that starts the module name ("model.layers", "transformer.h") selects PEFT's modules. */
    @Test
    void layersPatternStartingTheNameWrapsPeftsModules() throws Exception {
        for (String name : List.of("layers-pattern-dotted", "layers-pattern-gpt2")) {
            Path dir = Fixtures.root().resolve("lora").resolve(name);
            JsonObject c = Fixtures.json(dir.resolve("case.json"));
            JsonObject kw = c.getAsJsonObject("lora_config_kwargs").getAsJsonObject("default");
            List<String> targets = new java.util.ArrayList<>();
            kw.getAsJsonArray("target_modules").forEach(e -> targets.add(e.getAsString()));
            var layers = kw.get("layers_to_transform");
            int layer = layers.isJsonArray() ? layers.getAsJsonArray().get(0).getAsInt() : layers.getAsInt();
            PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(c.get("model").getAsString()));
            PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().targetModules(targets)
                    .fanInFanOut(kw.has("fan_in_fan_out") && kw.get("fan_in_fan_out").getAsBoolean())
                    .layersToTransform(layer).layersPattern(kw.get("layers_pattern").getAsString()).build());
            assertThat(pm.tuner().tunerLayers().keySet()).as(name).containsExactlyInAnyOrderElementsOf(
                    c.getAsJsonObject("wrapped_modules").getAsJsonObject("default").keySet());
            assertThat(pm.getNbTrainableParameters()[0]).isEqualTo(c.get("trainable_params").getAsLong());
        }
    }
}
