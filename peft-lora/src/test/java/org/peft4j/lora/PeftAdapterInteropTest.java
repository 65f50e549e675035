package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Adapters saved by Python PEFT 0.21.2 ({@code interop/fixtures/lora}) load in peft4j and give PEFT's logits within
 * 1e-4: with the adapter, with it disabled, merged, and for several adapters; the wrapped modules, ranks, alphas and
 * scalings and the trainable-parameter counts equal PEFT's.
 */
class PeftAdapterInteropTest {
    static final double TOL = 1e-4;

    static Stream<String> cases() throws Exception {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(Fixtures.root().resolve("lora"))) {
            s.filter(p -> Files.exists(p.resolve("case.json")) && !p.getFileName().toString().equals("train-step"))
                    .forEach(p -> out.add(p.getFileName().toString()));
        }
        assertThat(out).hasSizeGreaterThanOrEqualTo(16);
        return out.stream().sorted();
    }

    static Path caseDir(String name) {
        return Fixtures.root().resolve("lora").resolve(name);
    }

    static Map<String, Tensor> expected(String name) throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(caseDir(name).resolve("expected.safetensors"))) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    /** Loads the case's adapters onto a fresh base, as PEFT's from_pretrained + load_adapter. */
    static PeftModel load(String name, JsonObject c) throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(c.get("model").getAsString()));
        PeftModel pm = null;
        for (Map.Entry<String, JsonElement> e : c.getAsJsonObject("adapters").entrySet()) {
            Path dir = caseDir(name).resolve(e.getValue().getAsString());
            if (pm == null) {
                pm = PeftModel.fromPretrained(base, dir, e.getKey(), false);
            } else {
                assertThat(pm.loadAdapter(dir, e.getKey(), false).missingKeys()).isEmpty();
            }
        }
        return pm;
    }

    static double maxDiffOnTokens(Tensor got, Tensor want, Tensor mask) {
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        long[] m = mask.toLongArray();
        int vocab = (int) want.dim(2);
        double max = 0;
        for (int pos = 0; pos < m.length; pos++) {
            if (m[pos] == 0) {
                continue;
            }
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, Math.abs(g[pos * vocab + v] - w[pos * vocab + v]));
            }
        }
        return max;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsMatchPeft(String name) throws Exception {
        JsonObject c = Fixtures.json(caseDir(name).resolve("case.json"));
        Map<String, Tensor> want = expected(name);
        Tensor ids = want.get("input_ids");
        Tensor mask = want.get("attention_mask");
        PeftModel pm = load(name, c);
        assertThat(maxDiffOnTokens(pm.logits(ids, mask), want.get("logits"), mask)).isLessThan(TOL);
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            assertThat(maxDiffOnTokens(pm.logits(ids, mask), want.get("base_logits"), mask)).isLessThan(TOL);
        }
        if (want.containsKey("logits_second")) {
            pm.setAdapter("second");
            assertThat(maxDiffOnTokens(pm.logits(ids, mask), want.get("logits_second"), mask)).isLessThan(TOL);
            pm.setAdapters(List.of("default", "second"));
            assertThat(maxDiffOnTokens(pm.logits(ids, mask), want.get("logits_both"), mask)).isLessThan(TOL);
            pm.setAdapter("default");
        }
        if (want.containsKey("merged_logits")) {
            PreTrainedModel merged = pm.mergeAndUnload();
            assertThat(maxDiffOnTokens(merged.logits(ids, mask), want.get("merged_logits"), mask)).isLessThan(TOL);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void wrappedModulesRanksAndScalingsMatchPeft(String name) throws Exception {
        JsonObject c = Fixtures.json(caseDir(name).resolve("case.json"));
        PeftModel pm = load(name, c);
        for (Map.Entry<String, JsonElement> a : c.getAsJsonObject("wrapped_modules").entrySet()) {
            Map<String, List<Object>> got = new LinkedHashMap<>();
            pm.tuner().tunerLayers().forEach((k, l) -> {
                LoraLayer layer = (LoraLayer) l;
                if (layer.r().containsKey(a.getKey())) {
                    got.put(k, List.of(layer.r().get(a.getKey()), layer.loraAlpha().get(a.getKey()),
                            layer.scaling().get(a.getKey())));
                }
            });
            JsonObject wantMods = a.getValue().getAsJsonObject();
            assertThat(got.keySet()).as(name + "/" + a.getKey()).containsExactlyInAnyOrderElementsOf(
                    wantMods.keySet());
            for (String k : wantMods.keySet()) {
                JsonArray w = wantMods.getAsJsonArray(k);
                assertThat(((Number) got.get(k).get(0)).intValue()).isEqualTo(w.get(0).getAsInt());
                assertThat(((Number) got.get(k).get(1)).doubleValue()).isEqualTo(w.get(1).getAsDouble());
                assertThat(((Number) got.get(k).get(2)).doubleValue()).isCloseTo(w.get(2).getAsDouble(),
                        within(1e-12));
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void freshAdapterCountsAndSavedKeysMatchPeft(String name) throws Exception {
        JsonObject c = Fixtures.json(caseDir(name).resolve("case.json"));
        String first = c.getAsJsonObject("adapters").keySet().iterator().next();
        Path dir = caseDir(name).resolve(c.getAsJsonObject("adapters").get(first).getAsString());
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(c.get("model").getAsString()));
        PeftConfig cfg = PeftConfigs.fromPretrained(dir);
        cfg.setInferenceMode(false);
        PeftModel pm = Peft.getPeftModel(base, cfg, first);
        assertThat(pm.getNbTrainableParameters()).containsExactly(c.get("trainable_params").getAsLong(),
                c.get("all_params").getAsLong());
        for (Map.Entry<String, JsonElement> a : c.getAsJsonObject("saved_keys").entrySet()) {
            if (!pm.peftConfig().containsKey(a.getKey())) {
                Path d = caseDir(name).resolve(c.getAsJsonObject("adapters").get(a.getKey()).getAsString());
                pm.addAdapter(a.getKey(), PeftConfigs.fromPretrained(d));
            }
            Map<String, Tensor> sd = pm.getPeftModelStateDict(a.getKey());
            assertThat(sd.keySet()).as(name + "/" + a.getKey()).containsExactlyInAnyOrderElementsOf(
                    a.getValue().getAsJsonObject().keySet());
            for (Map.Entry<String, JsonElement> k : a.getValue().getAsJsonObject().entrySet()) {
                List<Long> shape = new ArrayList<>();
                k.getValue().getAsJsonArray().forEach(x -> shape.add(x.getAsLong()));
                assertThat(sd.get(k.getKey()).shape()).as(k.getKey()).containsExactly(
                        shape.stream().mapToLong(Long::longValue).toArray());
            }
        }
    }
}
