package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.ModulesToSaveWrapper;
import org.peft4j.tensor.Tensor;

/**
 * PEFT's common battery, adapter management: {@code test_adapter_name}, {@code test_delete_adapter},
 * {@code test_delete_inactive_adapter}, {@code test_adding_multiple_adapters_with_bias_raises}, the
 * duplicate-name and unknown-name errors, {@code test_training_layer_indexing} (the wrapping part) and
 * {@code modules_to_save}.
 */
class LoraAdapterManagementBatteryTest {

    /** adapter_name: the adapter's name is part of the in-memory parameter names, and removed in saved keys. */
    @Test
    void adapterNameAppearsInParameterNames() throws Exception {
        PeftModel pm = Battery.peft("llama-mha", "test-adapter");
        List<String> named = new ArrayList<>();
        for (String k : pm.namedParameters().keySet()) {
            if (k.contains("test-adapter")) {
                named.add(k);
            }
        }
        assertThat(named).hasSize(8).contains(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.test-adapter.weight");
        assertThat(pm.activeAdapter()).isEqualTo("test-adapter");
        assertThat(pm.getPeftModelStateDict("test-adapter").keySet()).hasSize(8)
                .noneMatch(k -> k.contains("test-adapter"));
    }

    /** A duplicate name, an unknown name for set_adapter, and a second adapter with a bias fail as in PEFT. */
    @Test
    void duplicateUnknownAndSecondBiasedAdapterAreRefused() throws Exception {
        PeftModel pm = Battery.peft("llama-mha");
        assertThatThrownBy(() -> pm.addAdapter("default", Battery.config().build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Adapter with name 'default' already exists.");
        assertThatThrownBy(() -> pm.setAdapter("unknown"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("Adapter unknown not found.");
        assertThat(pm.activeAdapters()).containsExactly("default");

        // one adapter with bias is allowed next to bias="none" ones; a second one is refused and rolled back
        pm.addAdapter("other", Battery.config().bias("all").build());
        assertThatThrownBy(() -> pm.addAdapter("other2", Battery.config().bias("lora_only").build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("LoraModel supports only 1 adapter with bias. When using multiple adapters, set bias to "
                        + "'none' for all adapters.");
        assertThat(pm.peftConfig().keySet()).containsExactly("default", "other");
        for (LoraLayer l : Battery.loraLayers(pm).values()) {
            assertThat(l.adapterNames()).containsExactly("default", "other");
        }
        assertThat(pm.namedParameters().keySet()).noneMatch(k -> k.contains("other2"));
    }

    /**
     * delete_adapter: the deleted adapter leaves peft_config, every layer's per-adapter containers and the
     * modules_to_save wrappers; deleting the active one activates "default" with PEFT's warning; deleting the last
     * leaves no active adapter and the forward (then the base model's) still runs. Unknown and merged adapters are
     * refused with PEFT's messages.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void deleteAdapter(String name) throws Exception {
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        boolean withSaved = name.startsWith("llama");
        LoraConfig.Builder b = Battery.config();
        if (withSaved) {
            b.modulesToSave("lm_head");
        }
        PeftModel pm = Peft.getPeftModel(m, b.build());
        LoraConfig.Builder b2 = Battery.config();
        if (withSaved) {
            b2.modulesToSave("lm_head");
        }
        pm.addAdapter("delete_me", b2.build());
        pm.addAdapter("inactive", Battery.config().build());
        pm.setAdapter("delete_me");

        assertThatThrownBy(() -> pm.deleteAdapter("unknown-adapter"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("Adapter unknown-adapter does not exist");

        String log = Battery.logs(() -> pm.deleteAdapter("delete_me"));
        assertThat(log).contains("Adapter delete_me was active which is now deleted. Setting active adapter to "
                + "default.");
        assertThat(pm.peftConfig()).doesNotContainKey("delete_me");
        assertThat(pm.activeAdapters()).containsExactly("default");
        assertGone(pm, "delete_me");
        for (LoraLayer l : Battery.loraLayers(pm).values()) {
            assertThat(l.activeAdapters()).containsExactly("default");
        }

        // delete_inactive_adapter: the active adapter stays
        pm.deleteAdapter("inactive");
        assertThat(pm.activeAdapters()).containsExactly("default");
        assertGone(pm, "inactive");

        pm.deleteAdapter("default");
        assertThat(pm.peftConfig()).isEmpty();
        assertThat(pm.activeAdapters()).isEmpty();
        assertThat(pm.activeAdapter()).isNull();
        assertGone(pm, "default");
        assertThat(diff(logits(pm), base)).as("no adapter left: the base forward").isLessThan(1e-6);
    }

    /**
     * A merged adapter cannot be deleted (PEFT's message); after unmerging it can. (A merge/unmerge round trip
     * leaves the base weights within float32 rounding of the originals, not bit-exact, as in PEFT.)
     */
    @Test
    void mergedAdapterCannotBeDeleted() throws Exception {
        PeftModel pm = Battery.peft("llama-mha");
        pm.addAdapter("other", Battery.config().build());
        pm.mergeAdapter();
        assertThatThrownBy(() -> pm.deleteAdapter("default")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Cannot delete adapter(s) ['default'] while they are merged. Please unmerge them first.");
        assertThat(pm.peftConfig()).containsKey("default");
        pm.deleteAdapter("other");
        pm.unmergeAdapter();
        pm.deleteAdapter("default");
        assertThat(pm.peftConfig()).isEmpty();
    }

    private static void assertGone(PeftModel pm, String adapter) {
        for (Map.Entry<String, LoraLayer> e : Battery.loraLayers(pm).entrySet()) {
            LoraLayer l = e.getValue();
            assertThat(l.adapterNames()).as(e.getKey()).doesNotContain(adapter);
            assertThat(l.r()).doesNotContainKey(adapter);
            assertThat(l.loraAlpha()).doesNotContainKey(adapter);
            assertThat(l.scaling()).doesNotContainKey(adapter);
            for (String dict : List.of("lora_A", "lora_B", "lora_dropout", "lora_embedding_A", "lora_embedding_B",
                    "lora_magnitude_vector")) {
                assertThat(l.child(dict).namedChildren()).doesNotContainKey(adapter);
                assertThat(l.child(dict).directParameters()).doesNotContainKey(adapter);
            }
        }
        for (ModulesToSaveWrapper w : pm.tuner().modulesToSaveWrappers().values()) {
            assertThat(w.adapterNames()).doesNotContain(adapter);
        }
        assertThat(pm.namedParameters().keySet()).noneMatch(k -> k.contains("." + adapter + "."));
    }

    /** training_layer_indexing: layers_to_transform=[0] wraps only layer 0's modules, so fewer tensors train. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void layersToTransformWrapsOnlyThatLayer(String name) throws Exception {
        PeftModel all = Battery.peft(name);
        PeftModel first = Peft.getPeftModel(Battery.model(name), Battery.config().layersToTransform(0).build());
        List<String> expected = new ArrayList<>();
        for (String k : all.tuner().tunerLayers().keySet()) {
            if (k.matches(".*\\.0\\..*")) {
                expected.add(k);
            }
        }
        assertThat(expected).isNotEmpty();
        assertThat(first.tuner().tunerLayers().keySet()).containsExactlyElementsOf(expected);
        long allTensors = all.namedParameters().values().stream().filter(Parameter::trainable).count();
        long firstTensors = first.namedParameters().values().stream().filter(Parameter::trainable).count();
        assertThat(firstTensors).isEqualTo(2L * expected.size()).isLessThan(allTensors);
        assertThat(first.namedParameters()).allSatisfy((k, p) -> {
            if (p.trainable()) {
                assertThat(k).contains(".0.").contains(".lora_");
            }
        });
    }

    /**
     * modules_to_save: lm_head gets a trainable copy (the original frozen), saved under PEFT's key
     * {@code base_model.model.lm_head.weight}; disabling the adapters runs the original; a save/load round trip
     * restores the trained copy.
     */
    @Test
    void modulesToSaveCopyTrainsSavesAndIsBypassedWhenDisabled(@TempDir Path dir) throws Exception {
        PreTrainedModel m = Battery.model("llama-mha");
        Tensor base = logits(m);
        PeftModel pm = Peft.getPeftModel(m, Battery.config().modulesToSave("lm_head").build());
        Module wrapped = pm.getBaseModel().getSubmodule("lm_head");
        assertThat(wrapped).isInstanceOf(ModulesToSaveWrapper.class);
        ModulesToSaveWrapper w = (ModulesToSaveWrapper) wrapped;
        Map<String, Parameter> params = pm.namedParameters();
        Parameter copy = params.get("base_model.model.lm_head.modules_to_save.default.weight");
        Parameter original = params.get("base_model.model.lm_head.original_module.weight");
        assertThat(copy).isNotNull();
        assertThat(original).isNotNull().isNotSameAs(copy);
        assertThat(copy.trainable()).isTrue();
        assertThat(original.trainable()).isFalse();
        assertThat(copy.data().contentEquals(original.data())).isTrue();

        // "train" the copy
        float[] v = copy.data().toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] += 0.05f * (float) Math.sin(i);
        }
        copy.setData(Tensor.of(v, copy.shape()));
        Tensor trained = logits(pm);
        PeftModel loraOnly = Peft.getPeftModel(Battery.model("llama-mha"), Battery.config().build());
        assertThat(diff(trained, logits(loraOnly))).as("the copy is what runs").isGreaterThan(1e-3);

        Map<String, Tensor> saved = pm.getPeftModelStateDict("default");
        assertThat(saved).containsKey("base_model.model.lm_head.weight");
        assertThat(saved.keySet()).noneMatch(k -> k.contains("modules_to_save") || k.contains("original_module"));
        assertThat(saved.get("base_model.model.lm_head.weight").contentEquals(copy.data())).isTrue();

        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            assertThat(w.current()).isSameAs(w.originalModule());
            assertThat(diff(logits(pm), base)).isLessThan(1e-6);
            assertThat(copy.trainable()).isFalse();
        }
        assertThat(w.current()).isNotSameAs(w.originalModule());
        assertThat(copy.trainable()).isTrue();
        assertThat(diff(logits(pm), trained)).isLessThan(1e-6);

        pm.savePretrained(dir);
        PeftModel loaded = PeftModel.fromPretrained(Battery.model("llama-mha"), dir);
        assertThat(loaded.namedParameters().get("base_model.model.lm_head.modules_to_save.default.weight").data()
                .contentEquals(copy.data())).isTrue();
        assertThat(diff(logits(loaded), trained)).isLessThan(1e-6);
    }
}
