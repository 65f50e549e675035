package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.train.TrainStep;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * LoRA on Phi-3 and OPT against PEFT 0.21.2 (interop/make_family_fixtures_phi3_opt.py): PEFT-saved adapters (OPT with
 * PEFT's default targets; an opt-350m-like OPT with project_in/project_out, out_proj, fc1, fc2; Phi-3's fused
 * qkv_proj and gate_up_proj) give PEFT's logits, enabled, disabled and merged; PEFT's default targets for opt wrap
 * what PEFT wraps, with PEFT's parameter counts; phi3 has no default in PEFT, so target_modules must be given; one
 * LoRA training step (left-padded batch) gives PEFT + torch autograd's loss and LoRA gradients.
 */
class Phi3OptLoraTest {
    static Path root() {
        return Fixtures.root().resolve("phi3-opt").resolve("lora");
    }

    static PreTrainedModel base(JsonObject c) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("models").resolve(
                c.get("model").getAsString()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt-default", "opt-proj-all", "phi3-fused"})
    void peftAdaptersGivePeftsLogits(String name) throws Exception {
        Path dir = root().resolve(name);
        JsonObject c = Fixtures.json(dir.resolve("case.json"));
        PeftModel pm = PeftModel.fromPretrained(base(c), dir.resolve("adapter"), "default", false);
        List<String> wrapped = new ArrayList<>(c.getAsJsonObject("wrapped_modules").getAsJsonObject("default")
                .keySet());
        for (String w : wrapped) {
            assertThat(pm.baseModel().getSubmodule(w)).as(w).isInstanceOf(LoraLayer.class);
        }
        try (SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            Tensor ids = want.get("input_ids");
            Tensor mask = want.get("attention_mask");
            Tensor logits = want.get("logits");
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), logits, mask))
                    .isLessThan(PeftAdapterInteropTest.TOL);
            try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
                assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), want.get("base_logits"),
                        mask)).isLessThan(PeftAdapterInteropTest.TOL);
            }
            PreTrainedModel merged = pm.mergeAndUnload();
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(merged.logits(ids, mask), logits, mask))
                    .isLessThan(PeftAdapterInteropTest.TOL);
        }
    }

    @Test
    void optDefaultTargetsWrapWhatPeftWraps() throws Exception {
        JsonObject c = Fixtures.json(root().resolve("opt-default").resolve("case.json"));
        PeftModel pm = Peft.getPeftModel(base(c), LoraConfig.builder().r(8).loraAlpha(16).build());
        List<String> got = new ArrayList<>();
        pm.baseModel().namedModules().forEach((n, m) -> {
            if (m instanceof LoraLayer) {
                got.add(n);
            }
        });
        assertThat(got).containsExactlyInAnyOrderElementsOf(c.getAsJsonObject("wrapped_modules")
                .getAsJsonObject("default").keySet());
        assertThat(pm.getNbTrainableParameters()).containsExactly(c.get("trainable_params").getAsLong(),
                c.get("all_params").getAsLong());
    }

    @Test
    void phi3HasNoDefaultTargetsAsInPeft() throws Exception {
        JsonObject c = Fixtures.json(root().resolve("phi3-fused").resolve("case.json"));
        PreTrainedModel m = base(c);
        assertThat(LoraModel.DEFAULT_TARGET_MODULES).doesNotContainKey("phi3").containsKey("opt");
        assertThatThrownBy(() -> Peft.getPeftModel(m, LoraConfig.builder().r(8).build()))
                .hasMessageContaining("Please specify `target_modules`");
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "phi3"})
    void oneLoraTrainingStepGivesTorchsLossAndGradients(String name) throws Exception {
        Path dir = Fixtures.root().resolve("phi3-opt").resolve("lora-train-step").resolve(name);
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(name)),
                dir.resolve("adapter"), "default", true);
        TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared());
        try (SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            TreeSet<String> wantNames = new TreeSet<>();
            for (String k : want.keys()) {
                if (k.startsWith("grad.")) {
                    wantNames.add(k.substring("grad.".length() + BaseTuner.KEY_PREFIX.length()));
                }
            }
            assertThat(wantNames).hasSize(8);
            assertThat(new TreeSet<>(step.trainable().keySet())).isEqualTo(wantNames);
            TrainStep.Output out = step.run(new Batch(want.get("input_ids"), want.get("attention_mask"),
                    want.get("labels")));
            double wantLoss = want.get("loss").toFloatArray()[0];
            assertThat(Math.abs(out.loss() - wantLoss) / Math.abs(wantLoss)).isLessThan(
                    LoraTrainStepInteropTest.REL_TOL);
            for (String n : wantNames) {
                Map<String, org.peft4j.tensor.Tensor> grads = out.gradients();
                float[] w = want.get("grad." + BaseTuner.KEY_PREFIX + n).toFloatArray();
                assertThat(LoraTrainStepInteropTest.relErr(grads.get(n).toFloatArray(), w)).as(n)
                        .isLessThan(LoraTrainStepInteropTest.REL_TOL);
            }
        }
    }
}
