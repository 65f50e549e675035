package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLM;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;
import org.peft4j.train.CausalLMLoss;

/**
 * LoRA on Qwen3 and Gemma 2 against PEFT 0.21.2 (interop/make_family_fixtures_qwen3_gemma2.py,
 * {@code interop/fixtures/families/lora/<model>-default}): PEFT's default target modules, a PEFT-saved adapter's
 * logits (with the adapter, disabled, merged), and one training step's loss and LoRA gradients.
 */
class Qwen3Gemma2LoraTest {
    static Path dir(String model) {
        return Fixtures.root().resolve("families").resolve("lora").resolve(model + "-default");
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void defaultTargetModulesAndCountsArePefts(String model) throws Exception {
        JsonObject c = Fixtures.json(dir(model).resolve("case.json"));
        PreTrainedModel base = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model(model).resolve(
                "config.json")));
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(8).loraAlpha(16).taskType(TaskType.CAUSAL_LM)
                .build());
        assertThat(pm.getNbTrainableParameters()).containsExactly(c.get("trainable_params").getAsLong(),
                c.get("all_params").getAsLong());
        assertThat(LoraModel.DEFAULT_TARGET_MODULES.get(model)).containsExactly("q_proj", "v_proj");
        List<String> wrapped = new ArrayList<>(c.getAsJsonObject("wrapped_modules").getAsJsonObject("default")
                .keySet());
        List<String> want = new ArrayList<>();
        for (String w : wrapped) {
            want.add(w + ".lora_A.default.weight");
            want.add(w + ".lora_B.default.weight");
        }
        List<String> got = new ArrayList<>();
        pm.namedParameters().forEach((n, p) -> {
            if (p.trainable()) {
                got.add(n.replace("base_model.model.", ""));
            }
        });
        assertThat(got).containsExactlyInAnyOrderElementsOf(want);
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void peftSavedAdapterGivesPeftsLogits(String model) throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
        PeftModel pm = PeftModel.fromPretrained(base, dir(model).resolve("adapter"), "default", false);
        try (SafeTensors want = SafeTensors.open(dir(model).resolve("expected.safetensors"))) {
            Tensor ids = want.get("input_ids");
            Tensor mask = want.get("attention_mask");
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), want.get("logits"), mask))
                    .isLessThan(PeftAdapterInteropTest.TOL);
            try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
                assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), want.get("base_logits"),
                        mask)).isLessThan(PeftAdapterInteropTest.TOL);
            }
            PreTrainedModel merged = pm.mergeAndUnload();
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(merged.logits(ids, mask), want.get("logits"), mask))
                    .isLessThan(PeftAdapterInteropTest.TOL);
        }
    }

    /** LoRA on Gemma 2's scaled embedding: PEFT multiplies the adapter's output by the layer's sqrt(hidden). */
    @org.junit.jupiter.api.Test
    void loraOnTheScaledEmbeddingIsScaledAsPeft() throws Exception {
        Path d = Fixtures.root().resolve("families").resolve("lora").resolve("gemma2-embed-tokens");
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model("gemma2")),
                d.resolve("adapter"), "default", false);
        try (SafeTensors want = SafeTensors.open(d.resolve("expected.safetensors"))) {
            Tensor ids = want.get("input_ids");
            Tensor mask = want.get("attention_mask");
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), want.get("logits"), mask))
                    .isLessThan(PeftAdapterInteropTest.TOL);
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), want.get("base_logits"), mask))
                    .as("the adapter matters").isGreaterThan(1e-2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void trainingStepGivesPeftsLossAndLoraGradients(String model) throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
        PeftModel pm = PeftModel.fromPretrained(base, dir(model).resolve("adapter"), "default", true);
        try (SafeTensors want = SafeTensors.open(dir(model).resolve("train.safetensors"))) {
            Map<String, float[]> grads = new LinkedHashMap<>();
            double loss = gradients(pm, want.get("input_ids"), want.get("attention_mask"), want.get("labels"), grads);
            assertThat(loss).isCloseTo(want.get("loss").getFloat(0), within(1e-5));
            assertThat(grads).hasSize(want.keys().size() - 4);
            for (Map.Entry<String, float[]> e : grads.entrySet()) {
                Tensor ref = want.get("grad." + e.getKey());
                assertThat(ref).as(e.getKey()).isNotNull();
                assertThat(FullGradients.relativeL2(e.getValue(), ref.toFloatArray())).as(e.getKey())
                        .isLessThan(1e-4);
            }
        }
    }

    /** Loss and gradients of the trainable parameters (evaluation mode: no dropout; PEFT's lora_dropout is 0). */
    static double gradients(CausalLM m, Tensor ids, Tensor mask, Tensor labels, Map<String, float[]> out) {
        Graph g = new Graph();
        g.nameParameters(m.namedParameters());
        Value idv = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labv = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value maskv = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value loss = CausalLMLoss.build(g, m.forward(g, CausalLMInput.of(idv).attentionMask(maskv)).logits(), labv);
        Map<String, Value> params = new LinkedHashMap<>();
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", ids);
        feed.put("labels", labels);
        feed.put("attention_mask", mask);
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (e.getValue().trainable()) {
                params.put(e.getKey(), g.param(e.getValue()));
            }
        }
        Autodiff.Result res = Autodiff.gradients(g, loss, new ArrayList<>(params.values()));
        g.output("loss", loss);
        List<String> names = new ArrayList<>(params.keySet());
        for (int i = 0; i < names.size(); i++) {
            g.output("grad" + i, res.gradient(params.get(names.get(i))));
        }
        for (Value p : params.values()) {
            feed.put(p.name(), p.parameter().data());
        }
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults());
                CompiledGraph cg = rt.compile(g, p -> p.trainable())) {
            Map<String, Tensor> r = cg.run(feed);
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), r.get("grad" + i).toFloatArray());
            }
            return r.get("loss").getFloat(0);
        }
    }
}
