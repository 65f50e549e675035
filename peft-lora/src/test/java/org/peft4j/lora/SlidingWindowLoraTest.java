package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * PEFT-saved LoRA adapters on sliding-window models (Qwen2 with full and sliding layers, window 3; Mistral, window 4;
 * interop/make_sliding_window_fixtures.py) give PEFT's logits, with the adapter and disabled, and merged.
 */
class SlidingWindowLoraTest {

    @ParameterizedTest
    @ValueSource(strings = {"qwen2-swa-qvo", "mistral-swa-all-linear"})
    void logitsMatchPeft(String name) throws Exception {
        Path root = Fixtures.root().resolve("sliding-window");
        Path dir = root.resolve("lora").resolve(name);
        JsonObject c = Fixtures.json(dir.resolve("case.json"));
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(root.resolve("models").resolve(
                c.get("model").getAsString()));
        PeftModel pm = PeftModel.fromPretrained(base, dir.resolve("adapter"), "default", false);
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
}
