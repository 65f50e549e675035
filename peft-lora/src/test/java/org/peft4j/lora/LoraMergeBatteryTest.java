package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * PEFT's common battery, merging and unloading ({@code test_merge_layers}, {@code test_merge_layers_nan},
 * {@code test_merge_layers_multi}, {@code test_merge_is_idempotent}, {@code test_safe_merge},
 * {@code test_disable_adapter}, {@code test_unload_adapter}) for LoRA with {@code init_lora_weights=False} on a
 * Llama ({@code Linear} q_proj/v_proj) and a GPT-2 ({@code Conv1D} c_attn, fan-in-fan-out) model.
 */
class LoraMergeBatteryTest {

    /** merge_layers: plain, merged, unmerged and merge_and_unload logits agree at 1e-4 and differ from the base. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void mergeUnmergeAndMergeAndUnloadAgree(String name, @TempDir Path dir) throws Exception {
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        int baseKeys = m.stateDict().size();
        PeftModel pm = Peft.getPeftModel(m, Battery.config().build());
        Map.Entry<String, LoraLayer> first = Battery.loraLayers(pm).entrySet().iterator().next();
        Tensor w0 = ((LoraLinear) first.getValue()).baseWeight().data().copy();

        Tensor peft = logits(pm);
        assertThat(diff(peft, base)).as("a non-trivial adapter changes the output").isGreaterThan(1e-3);

        pm.mergeAdapter();
        assertThat(first.getValue().mergedAdapters()).containsExactly("default");
        assertThat(diff(((LoraLinear) first.getValue()).baseWeight().data(), w0)).isGreaterThan(1e-3);
        Tensor merged = logits(pm);
        assertThat(diff(merged, peft)).isLessThan(1e-4);

        pm.unmergeAdapter();
        assertThat(first.getValue().merged()).isFalse();
        assertThat(diff(((LoraLinear) first.getValue()).baseWeight().data(), w0)).isLessThan(1e-6);
        assertThat(diff(logits(pm), peft)).isLessThan(1e-4);

        PreTrainedModel unloaded = pm.mergeAndUnload();
        assertThat(unloaded.namedModules().values()).noneMatch(x -> x instanceof BaseTunerLayer);
        assertThat(pm.peftConfig()).isEmpty();
        assertThat(unloaded.stateDict()).hasSize(baseKeys);
        Tensor mergedAndUnloaded = logits(unloaded);
        assertThat(diff(mergedAndUnloaded, peft)).isLessThan(1e-4);
        assertThat(diff(mergedAndUnloaded, base)).as("merged output differs from the base").isGreaterThan(1e-3);

        // a merged model is a plain transformers model: it saves and reloads with the same logits
        unloaded.savePretrained(dir);
        PreTrainedModel reloaded = AutoModelForCausalLM.fromPretrained(dir);
        assertThat(diff(logits(reloaded), mergedAndUnloaded)).isLessThan(1e-6);
    }

    /**
     * safe_merge: merge_and_unload(safe_merge=True) against the PEFT forward. PEFT asserts 1e-6 (CPU float32) on
     * its tiny models; here 1e-6 absolute is not reachable on the logits, and not because of the merge: with
     * {@code init_lora_weights=False} the adapters dominate these 32-wide models and the logits reach about 8
     * (llama-mha) and 10 (gpt2), where one float32 ulp is 1e-6. Measured: |merged - peft| = 4.8e-6 (llama-mha) and
     * 1.6e-5 (gpt2); a model whose merged weights are computed in double and rounded once differs from the PEFT
     * forward by 6.0e-6 and 8.0e-6 itself. So the test checks the 1e-6 claim where it is meaningful:
     * <ul>
     *   <li>every merged weight equals the exact {@code W + s B A} (double, rounded once) within 1e-6, and
     *   <li>the logits agree to within 4e-6 <em>relative</em> to their largest magnitude (about 30 float32 ulps;
     *       measured 6e-7 and 1.5e-6).
     * </ul>
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void safeMergeEqualsUnmergedOutput(String name) throws Exception {
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        PeftModel pm = Peft.getPeftModel(m, Battery.config().build());
        Tensor peft = logits(pm);
        assertThat(diff(peft, base)).isGreaterThan(1e-3);
        Map<String, float[]> exact = new java.util.LinkedHashMap<>();
        Map<String, Parameter> weights = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, LoraLayer> e : Battery.loraLayers(pm).entrySet()) {
            LoraLinear l = (LoraLinear) e.getValue();
            exact.put(e.getKey(), exactMerge(l, "default"));
            weights.put(e.getKey(), l.baseWeight());
        }
        PreTrainedModel merged = pm.mergeAndUnload(true, null);
        for (Map.Entry<String, float[]> e : exact.entrySet()) {
            assertThat(merged.getSubmodule(e.getKey()).parameter("weight")).isSameAs(weights.get(e.getKey()));
            assertThat(Fixtures.maxAbsDiff(weights.get(e.getKey()).data().toFloatArray(), e.getValue()))
                    .as(e.getKey()).isLessThan(1e-6);
        }
        double d = diff(logits(merged), peft);
        double scale = Battery.maxAbs(peft);
        System.out.printf("safe merge %s: max |merged - peft| = %.3g, max |logits| = %.3g%n", name, d, scale);
        assertThat(d).isLessThan(4e-6 * scale);
    }

    /** {@code W + s B A} of one layer computed in double and rounded once, in the base weight's layout. */
    static float[] exactMerge(LoraLinear l, String adapter) {
        double[] w = l.baseWeight().data().toDoubleArray();
        double[] a = l.loraA(adapter).weight().data().toDoubleArray();
        double[] b = l.loraB(adapter).weight().data().toDoubleArray();
        int r = l.r().get(adapter);
        int in = (int) l.inFeatures();
        int out = (int) l.outFeatures();
        double s = l.scaling().get(adapter);
        float[] m = new float[w.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double d = 0;
                for (int k = 0; k < r; k++) {
                    d += b[o * r + k] * a[k * in + i];
                }
                int idx = l.fanInFanOut() ? i * out + o : o * in + i;
                m[idx] = (float) (w[idx] + s * d);
            }
        }
        return m;
    }

    /** merge_layers_nan: a NaN or Inf in lora_A makes a safe merge fail with PEFT's message, before any change. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void safeMergeDetectsNanAndInf(String name) throws Exception {
        PeftModel pm = Battery.peft(name);
        Tensor peft = logits(pm);
        LoraLinear layer = (LoraLinear) Battery.loraLayers(pm).values().iterator().next();
        Parameter a = layer.loraA("default").weight();
        Tensor original = a.data().copy();
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            float[] v = original.toFloatArray();
            v[0] = bad;
            a.setData(Tensor.of(v, original.shape()));
            assertThatThrownBy(() -> pm.mergeAndUnload(true, null)).as("value %s", bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("NaNs detected in the merged weights. The adapter default seems to be broken");
            // the refused merge changed nothing: the layer is still wrapped and unmerged
            assertThat(pm.getBaseModel().namedModules().values()).anyMatch(x -> x instanceof BaseTunerLayer);
            assertThat(layer.merged()).isFalse();
            assertThat(pm.peftConfig()).containsKey("default");
        }
        a.setData(original);
        PreTrainedModel merged = pm.mergeAndUnload(true, null);
        assertThat(diff(logits(merged), peft)).isLessThan(1e-4);
    }

    /** merge_is_idempotent: merging twice warns and leaves the weights and logits unchanged (1e-6). */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void secondMergeIsANoOp(String name) throws Exception {
        PeftModel pm = Battery.peft(name);
        pm.mergeAdapter();
        Tensor once = logits(pm);
        String log = Battery.logs(pm::mergeAdapter);
        assertThat(log).contains("All adapters are already merged, nothing to do.");
        Tensor twice = logits(pm);
        assertThat(diff(twice, once)).isLessThan(1e-6);
        for (LoraLayer l : Battery.loraLayers(pm).values()) {
            assertThat(l.mergedAdapters()).containsExactly("default");
        }
    }

    /**
     * merge_layers_multi: two adapters give different outputs; set_adapter switches back; merging both differs
     * from each and equals both active; merging only one equals that adapter's output. Every layer holding
     * "default" also holds "adapter-2".
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void twoAdaptersMergeSeparatelyAndTogether(String name) throws Exception {
        PeftModel pm = Battery.peft(name);
        pm.addAdapter("adapter-2", Battery.config().build());
        for (LoraLayer l : Battery.loraLayers(pm).values()) {
            if (l.adapterNames().contains("default")) {
                assertThat(l.adapterNames()).contains("adapter-2");
            }
        }
        assertThat(pm.activeAdapters()).containsExactly("default");
        Tensor first = logits(pm);
        pm.setAdapter("adapter-2");
        Tensor second = logits(pm);
        assertThat(diff(first, second)).isGreaterThan(1e-3);
        pm.setAdapter("default");
        assertThat(diff(logits(pm), first)).isLessThan(1e-6);
        pm.setAdapters(List.of("default", "adapter-2"));
        Tensor both = logits(pm);
        pm.setAdapter("default");

        pm.mergeAdapter(List.of("default", "adapter-2"), false);
        Tensor mergedBoth = logits(pm);
        assertThat(diff(mergedBoth, both)).isLessThan(1e-4);
        assertThat(diff(mergedBoth, first)).isGreaterThan(1e-3);
        assertThat(diff(mergedBoth, second)).isGreaterThan(1e-3);
        pm.unmergeAdapter();

        pm.mergeAdapter(List.of("adapter-2"), false);
        assertThat(diff(logits(pm), second)).isLessThan(1e-4);
        pm.unmergeAdapter();
        pm.mergeAdapter(List.of("default"), false);
        assertThat(diff(logits(pm), first)).isLessThan(1e-4);
        pm.unmergeAdapter();
        assertThat(diff(logits(pm), first)).isLessThan(1e-4);

        PreTrainedModel onlySecond = pm.mergeAndUnload(false, List.of("adapter-2"));
        assertThat(diff(logits(onlySecond), second)).isLessThan(1e-4);
    }

    /** disable_adapter: inside the block the output is the base's (1e-6); after it, the adapter's again (1e-6). */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void disableAdapterGivesTheBaseOutput(String name) throws Exception {
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        PeftModel pm = Peft.getPeftModel(m, Battery.config().build());
        Tensor peft = logits(pm);
        assertThat(diff(peft, base)).isGreaterThan(1e-3);
        long trainable = pm.getNbTrainableParameters()[0];
        assertThat(trainable).isPositive();
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            assertThat(diff(logits(pm), base)).isLessThan(1e-6);
            // PEFT freezes the adapter weights while disabled
            assertThat(pm.getNbTrainableParameters()[0]).isZero();
        }
        assertThat(diff(logits(pm), peft)).isLessThan(1e-6);
        assertThat(pm.getNbTrainableParameters()[0]).isEqualTo(trainable);
    }

    /** unload_adapter: unload() gives back the base model (1e-4), without tuner layers and with its state-dict keys. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void unloadRestoresTheBase(String name) throws Exception {
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        java.util.Set<String> keys = m.stateDict().keySet();
        PeftModel pm = Peft.getPeftModel(m, Battery.config().build());
        Tensor peft = logits(pm);
        assertThat(pm.getBaseModel().stateDict().size()).isGreaterThan(keys.size());
        PreTrainedModel unloaded = pm.unload();
        assertThat(unloaded.namedModules().values()).noneMatch(x -> x instanceof BaseTunerLayer);
        assertThat(unloaded.stateDict()).hasSize(keys.size());
        assertThat(unloaded.stateDict().keySet()).containsExactlyElementsOf(keys);
        Tensor out = logits(unloaded);
        assertThat(diff(out, base)).isLessThan(1e-4);
        assertThat(diff(out, peft)).isGreaterThan(1e-3);
    }
    /**
     * A plain merge writes owned weights in place (PEFT's {@code weight.data += delta}: no second copy of the model),
     * and gives the same logits as merging memory-mapped weights, which are never written and get new tensors; a safe
     * merge always works on a new tensor. GPT-2 covers the fan-in-fan-out layout.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void plainMergesOfOwnedWeightsWriteInPlace(String name) throws Exception {
        PreTrainedModel mapped = Battery.model(name);
        PeftModel pmMapped = Peft.getPeftModel(mapped, Battery.config().build());
        LoraLinear mappedLayer = (LoraLinear) Battery.loraLayers(pmMapped).values().iterator().next();
        Tensor mappedWeight = mappedLayer.baseWeight().data();
        Tensor mappedBefore = mappedWeight.copy();
        assertThat(mappedWeight.isWritableDirect()).as("fixture weights are memory-mapped read-only").isFalse();
        Tensor lora = logits(pmMapped);
        pmMapped.mergeAdapter();
        assertThat(mappedLayer.baseWeight().data()).isNotSameAs(mappedWeight);
        assertThat(mappedWeight.contentEquals(mappedBefore)).isTrue();
        Tensor mergedMapped = logits(pmMapped);

        PreTrainedModel owned = Battery.model(name);
        for (Parameter p : owned.namedParameters().values()) {
            p.setData(p.data().copy());
        }
        PeftModel pm = Peft.getPeftModel(owned, Battery.config().build());
        LoraLinear layer = (LoraLinear) Battery.loraLayers(pm).values().iterator().next();
        Tensor w = layer.baseWeight().data();
        Tensor w0 = w.copy();
        Tensor base;
        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
            base = logits(pm);
        }
        assertThat(diff(logits(pm), lora)).isLessThan(1e-6);

        pm.mergeAdapter();
        assertThat(layer.baseWeight().data()).isSameAs(w);
        assertThat(w.version()).isEqualTo(1);
        assertThat(diff(w, w0)).isGreaterThan(1e-3);
        assertThat(diff(logits(pm), mergedMapped)).isLessThan(1e-6);

        pm.unmergeAdapter();
        assertThat(layer.baseWeight().data()).isSameAs(w);
        assertThat(diff(w, w0)).isLessThan(1e-6);
        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
            assertThat(diff(logits(pm), base)).isLessThan(1e-5);
        }

        pm.mergeAdapter(List.of("default"), true);
        assertThat(layer.baseWeight().data()).as("a safe merge checks a new tensor before using it").isNotSameAs(w);
        assertThat(diff(w, w0)).isLessThan(1e-6);
        pm.unmergeAdapter();

        PreTrainedModel unloaded = pm.mergeAndUnload();
        assertThat(diff(logits(unloaded), mergedMapped)).isLessThan(1e-5);
    }
}
