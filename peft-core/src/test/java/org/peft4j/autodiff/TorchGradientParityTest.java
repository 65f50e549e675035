package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;

/** Full fine-tuning gradients (every parameter) against torch autograd (interop/make_grad_fixtures.py). */
class TorchGradientParityTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "gpt2"})
    void fullFineTuningGradientsMatchTorch(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("reference").resolve(name
                + "-grads.safetensors"))) {
            FullGradients out = FullGradients.of(m, ref.get("input_ids"), null, ref.get("labels"));
            assertThat(out.loss).isCloseTo(ref.get("loss").getFloat(0), org.assertj.core.api.Assertions.within(1e-5));
            assertThat(out.gradients).hasSize(ref.keys().size() - 3);
            for (Map.Entry<String, float[]> e : out.gradients.entrySet()) {
                float[] want = ref.get("grad." + e.getKey()).toFloatArray();
                assertThat(FullGradients.relativeL2(e.getValue(), want)).as(e.getKey()).isLessThan(1e-4);
            }
        }
    }
}
