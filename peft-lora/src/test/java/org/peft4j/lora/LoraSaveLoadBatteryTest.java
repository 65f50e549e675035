package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * PEFT's common battery, saving and loading: {@code test_save_pretrained}, {@code
 * test_save_pretrained_selected_adapters}, {@code test_adapter_name_substring}, {@code test_load_multiple_adapters}
 * and the {@code is_trainable} switch of {@code from_pretrained}.
 */
class LoraSaveLoadBatteryTest {

    static Map<String, Tensor> readAll(Path file) throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    static void assertSameTensors(Map<String, Tensor> got, Map<String, Tensor> want) {
        assertThat(got.keySet()).containsExactlyInAnyOrderElementsOf(want.keySet());
        for (Map.Entry<String, Tensor> e : want.entrySet()) {
            assertThat(got.get(e.getKey()).contentEquals(e.getValue())).as(e.getKey()).isTrue();
        }
    }

    /**
     * save_pretrained: the folder holds the adapter (and no base model files), a model card and a config naming the
     * base model; from_pretrained onto a fresh base restores every tensor exactly and the logits (1e-6), without a
     * missing-keys warning.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void savePretrainedRoundTrip(String name, @TempDir Path dir) throws Exception {
        PeftModel pm = Battery.peft(name);
        Tensor peft = logits(pm);
        Map<String, Tensor> sd = Battery.snapshot(pm.getPeftModelStateDict("default"));
        assertThat(sd).isNotEmpty();
        pm.savePretrained(dir);

        assertThat(dir.resolve("adapter_model.safetensors")).isRegularFile();
        assertThat(dir.resolve("adapter_config.json")).isRegularFile();
        assertThat(dir.resolve("config.json")).doesNotExist();
        assertThat(dir.resolve("model.safetensors")).doesNotExist();
        assertThat(dir.resolve("adapter_model.bin")).doesNotExist();
        try (SafeTensors st = SafeTensors.open(dir.resolve("adapter_model.safetensors"))) {
            assertThat(st.metadata()).containsEntry("format", "pt");
        }
        String baseName = pm.getBaseModel().nameOrPath();
        assertThat(baseName).isNotEmpty();
        String card = Files.readString(dir.resolve("README.md"));
        String front = card.substring(0, card.indexOf("---", 3));
        assertThat(front).startsWith("---\n").contains("\nlibrary_name: peft\n").contains("\nbase_model: " + baseName
                + "\n").contains("\n- lora\n");
        JsonObject cfg = Fixtures.json(dir.resolve("adapter_config.json"));
        assertThat(cfg.get("base_model_name_or_path").getAsString()).isEqualTo(baseName);
        assertThat(cfg.get("peft_type").getAsString()).isEqualTo("LORA");
        assertThat(cfg.get("inference_mode").getAsBoolean()).isTrue();
        assertThat(cfg.get("r").getAsInt()).isEqualTo(8);
        assertThat(cfg.get("lora_alpha").getAsDouble()).isEqualTo(32.0);

        assertSameTensors(readAll(dir.resolve("adapter_model.safetensors")), sd);
        Battery.Logged<PeftModel> loaded = Battery.logged(() -> PeftModel.fromPretrained(Battery.model(name), dir));
        assertThat(loaded.text).doesNotContain("Found missing adapter keys");
        assertSameTensors(loaded.value.getPeftModelStateDict("default"), sd);
        assertThat(diff(logits(loaded.value), peft)).isLessThan(1e-6);
    }

    /**
     * save_pretrained_selected_adapters: a second adapter goes to {@code new_adapter/} and reloads with load_adapter
     * to identical keys and values; {@code selected_adapters} saves only the adapters named.
     */
    @Test
    void secondAdapterSubfolderAndSelectedAdapters(@TempDir Path dir) throws Exception {
        PeftModel pm = Battery.peft("llama-mha");
        pm.addAdapter("new_adapter", Battery.config().build());
        Map<String, Tensor> first = Battery.snapshot(pm.getPeftModelStateDict("default"));
        Map<String, Tensor> second = Battery.snapshot(pm.getPeftModelStateDict("new_adapter"));
        pm.setAdapter("new_adapter");
        Tensor secondLogits = logits(pm);
        pm.setAdapter("default");

        Path all = dir.resolve("all");
        pm.savePretrained(all);
        assertThat(all.resolve("adapter_model.safetensors")).isRegularFile();
        assertThat(all.resolve("new_adapter").resolve("adapter_model.safetensors")).isRegularFile();
        assertThat(all.resolve("new_adapter").resolve("adapter_config.json")).isRegularFile();
        assertSameTensors(readAll(all.resolve("adapter_model.safetensors")), first);
        assertSameTensors(readAll(all.resolve("new_adapter").resolve("adapter_model.safetensors")), second);

        PeftModel loaded = PeftModel.fromPretrained(Battery.model("llama-mha"), all);
        Module.LoadResult r = loaded.loadAdapter(all.resolve("new_adapter"), "new_adapter", false);
        assertThat(r.missingKeys()).isEmpty();
        assertThat(r.unexpectedKeys()).isEmpty();
        assertSameTensors(loaded.getPeftModelStateDict("default"), first);
        assertSameTensors(loaded.getPeftModelStateDict("new_adapter"), second);
        loaded.setAdapter("new_adapter");
        assertThat(diff(logits(loaded), secondLogits)).isLessThan(1e-6);

        Path onlyDefault = dir.resolve("only-default");
        pm.savePretrained(onlyDefault, List.of("default"));
        assertThat(onlyDefault.resolve("adapter_model.safetensors")).isRegularFile();
        assertThat(onlyDefault.resolve("new_adapter")).doesNotExist();
        Path onlyNew = dir.resolve("only-new");
        pm.savePretrained(onlyNew, List.of("new_adapter"));
        assertThat(onlyNew.resolve("adapter_model.safetensors")).doesNotExist();
        assertSameTensors(readAll(onlyNew.resolve("new_adapter").resolve("adapter_model.safetensors")), second);
    }

    /**
     * adapter_name_substring: with adapters whose names contain or are contained in "default", saving
     * ["default"] writes exactly the default adapter's tensors.
     */
    @Test
    void adapterNamesThatAreSubstringsDoNotLeakIntoTheSave(@TempDir Path dir) throws Exception {
        PeftModel pm = Battery.peft("llama-mha");
        Map<String, Tensor> own = Battery.snapshot(pm.getPeftModelStateDict("default"));
        assertThat(own).hasSize(8);
        for (String n : List.of("default2", "other_default", "foodefault_bar", "efaul")) {
            pm.addAdapter(n, Battery.config().build());
        }
        assertThat(pm.getPeftModelStateDict("default")).hasSize(8);
        assertSameTensors(pm.getPeftModelStateDict("default"), own);
        pm.savePretrained(dir, List.of("default"));
        assertSameTensors(readAll(dir.resolve("adapter_model.safetensors")), own);
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            assertThat(s.filter(Files::isDirectory)).isEmpty();
        }
        // and each other adapter's save holds only its own tensors
        for (String n : List.of("default2", "other_default", "foodefault_bar", "efaul")) {
            Map<String, Tensor> sd = pm.getPeftModelStateDict(n);
            assertThat(sd).hasSize(8);
            LoraLinear q0 = (LoraLinear) pm.getBaseModel().getSubmodule("model.layers.0.self_attn.q_proj");
            assertThat(sd.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
                    .isSameAs(q0.loraA(n).weight().data());
        }
    }

    /**
     * load_multiple_adapters: load_adapter twice gives no missing keys; from_pretrained is frozen (0 trainable
     * parameters, inference mode) unless is_trainable.
     */
    @Test
    void loadMultipleAdaptersAndIsTrainable(@TempDir Path dir) throws Exception {
        PeftModel pm = Battery.peft("llama-mha");
        long trainable = pm.getNbTrainableParameters()[0];
        assertThat(trainable).isEqualTo(4L * (8 * 32 + 32 * 8));
        Map<String, Tensor> sd = Battery.snapshot(pm.getPeftModelStateDict("default"));
        pm.savePretrained(dir);

        PeftModel frozen = PeftModel.fromPretrained(Battery.model("llama-mha"), dir);
        assertThat(frozen.getNbTrainableParameters()[0]).isZero();
        assertThat(frozen.peftConfig().get("default").inferenceMode()).isTrue();
        for (String n : List.of("other", "yet-another")) {
            Module.LoadResult r = frozen.loadAdapter(dir, n, false);
            assertThat(r.missingKeys()).as(n).isEmpty();
            assertThat(r.unexpectedKeys()).as(n).isEmpty();
            assertSameTensors(frozen.getPeftModelStateDict(n), sd);
        }
        assertThat(frozen.getNbTrainableParameters()[0]).isZero();
        assertThat(frozen.activeAdapters()).containsExactly("default");

        PeftModel trainableModel = PeftModel.fromPretrained(Battery.model("llama-mha"), dir, "default", true);
        assertThat(trainableModel.peftConfig().get("default").inferenceMode()).isFalse();
        assertThat(trainableModel.getNbTrainableParameters()[0]).isEqualTo(trainable);
        assertThat(trainableModel.namedParameters()).allSatisfy((k, p) ->
                assertThat(p.trainable()).as(k).isEqualTo(k.contains(".lora_")));
    }
}
