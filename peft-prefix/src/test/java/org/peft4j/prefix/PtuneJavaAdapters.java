package org.peft4j.prefix;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Writes {@code interop/fixtures/ptune/java-adapters/<case>/} (adapter saved by peft4j, the batch and Java's logits,
 * {@code case.json}) for {@code interop/check_java_adapters.py}. Not a test: runs only with
 * {@code -Dptune.writeJavaAdapters=true}
 * ({@code mvn -o -q -pl peft-prefix -am test -Dtest=PtuneJavaAdapters -Dptune.writeJavaAdapters=true
 * -Dsurefire.failIfNoSpecifiedTests=false}), then the Python check is rerun and its report committed.
 */
class PtuneJavaAdapters {
    static Path root() {
        return Fixtures.root().resolve("ptune").resolve("java-adapters");
    }

    @Test
    @EnabledIfSystemProperty(named = "ptune.writeJavaAdapters", matches = "true")
    void write() throws Exception {
        write("pt-llama", "llama-gqa", new PromptTuningConfig(4).taskType(TaskType.CAUSAL_LM));
        write("ptun-mlp-gpt2", "gpt2", new PromptEncoderConfig(3).encoderHiddenSize(24)
                .taskType(TaskType.CAUSAL_LM));
        write("ptun-lstm-llama", "llama-gqa", new PromptEncoderConfig(4).encoderHiddenSize(16)
                .encoderReparameterizationType(PromptEncoderReparameterizationType.LSTM)
                .taskType(TaskType.CAUSAL_LM));
    }

    static void write(String name, String model, PromptLearningConfig cfg) throws Exception {
        Path dir = root().resolve(name);
        Files.createDirectories(dir);
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
        PeftModel pm = Peft.getPeftModel(base, cfg);
        pm.savePretrained(dir.resolve("adapter"));
        // the saved config names the base model by a path relative to interop/, as the PEFT-side fixtures do
        Path cfgFile = dir.resolve("adapter").resolve("adapter_config.json");
        com.google.gson.JsonObject j = Fixtures.json(cfgFile);
        j.addProperty("base_model_name_or_path", "fixtures/models/" + model);
        Files.writeString(cfgFile, new com.google.gson.GsonBuilder().setPrettyPrinting().serializeNulls().create()
                .toJson(j) + "\n");
        long[] ids = {5, 9, 17, 2, 44, 6, 31, 8, 20, 21, 22, 23};
        long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
        Tensor idsT = Tensor.of(ids, 2, 6);
        Tensor maskT = Tensor.of(mask, 2, 6);
        // Java's logits from the adapter as saved (what PEFT will load)
        PeftModel loaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(model)),
                dir.resolve("adapter"));
        Map<String, Tensor> exp = new LinkedHashMap<>();
        exp.put("input_ids", idsT);
        exp.put("attention_mask", maskT);
        exp.put("logits", loaded.logits(idsT, maskT));
        SafeTensorsWriter.write(dir.resolve("expected.safetensors"), exp);
        Files.writeString(dir.resolve("case.json"), "{\"model\": \"" + model + "\", \"adapter_names\": [\"default\"], "
                + "\"active\": [\"default\"]}\n");
    }
}
