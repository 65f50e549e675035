package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.safetensors.TensorSource;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/** LoRA through the opened core: what PEFT writes for auto_mapping, a fixed TrainStep, unexpected keys by file name. */
class CoreContractTest {
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "mistral", "qwen2", "gpt2"})
    void adaptersWithoutATaskTypeNameTransformersClassAsPeftDoes(String name, @TempDir Path dir) throws Exception {
        JsonObject want = Fixtures.json(Fixtures.root().resolve("reference").resolve("auto_mapping.json")).getAsJsonObject("models")
                .getAsJsonObject(name).getAsJsonObject("auto_mapping");
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        String target = name.equals("gpt2") ? "c_attn" : "q_proj";
        PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(2).targetModules(target).build());
        pm.savePretrained(dir);
        PeftConfig saved = PeftConfigs.fromPretrained(dir);
        assertThat(saved.taskType()).isNull();
        assertThat(saved.autoMapping()).isEqualTo(org.peft4j.internal.PlainJson.toPlainMap(want));
    }

    @Test
    void disablingTheAdapterAroundABuiltTrainStepIsRefusedClearly() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(4).targetModules("q_proj", "v_proj")
                .initLoraWeights(false).build());
        long[] ids = {7, 21, 3, 88, 14, 60};
        long[] mask = {1, 1, 1, 1, 1, 1};
        Batch batch = new Batch(Tensor.of(ids, 1, 6), Tensor.of(mask, 1, 6), Tensor.of(ids, 1, 6));
        try (TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
            assertThat(step.trainable()).allSatisfy((k, v) -> assertThat(k).startsWith("base_model.model.")
                    .contains(".lora_"));
            double loss = step.run(batch).loss();
            try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
                assertThatThrownBy(() -> step.run(batch)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("build a new TrainStep");
                // a step built now trains nothing: the disabled adapters are frozen
                assertThatThrownBy(() -> new TrainStep(pm, OrtRuntime.shared()))
                        .hasMessageContaining("no trainable parameters");
            }
            assertThat(step.run(batch).loss()).isEqualTo(loss);
            pm.mergeAdapter();
            assertThatThrownBy(() -> step.run(batch)).hasMessageContaining("build a new TrainStep");
            pm.unmergeAdapter();
            assertThat(step.run(batch).loss()).isEqualTo(loss);
        }
    }

    @Test
    void loadAdapterReportsUnexpectedKeysAsTheFileNamesThem(@TempDir Path dir) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(2).targetModules("q_proj").build());
        pm.savePretrained(dir);
        Path file = dir.resolve(PeftModel.SAFETENSORS_WEIGHTS_NAME);
        Map<String, Tensor> sd = new LinkedHashMap<>();
        try (TensorSource src = SafeTensors.open(file)) {
            for (String k : src.keys()) {
                sd.put(k, src.get(k).copy());
            }
        }
        String stray = "base_model.model.model.layers.0.self_attn.q_proj.lora_Z.weight";
        sd.put(stray, Tensor.of(new float[] {1, 2}, 2));
        SafeTensorsWriter.write(file, sd, SafeTensorsWriter.PT_METADATA);
        PeftModel other = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha")),
                LoraConfig.builder().r(2).targetModules("q_proj").build());
        Module.LoadResult r = other.loadAdapter(dir, "second", false);
        assertThat(r.unexpectedKeys()).containsExactly(stray);
        assertThat(r.missingKeys()).isEmpty();
    }
}
