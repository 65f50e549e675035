package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;

/**
 * One training step on sliding-window models (left-padded batch of 11 tokens, windows 4 and 3): loss and the
 * gradients of the embeddings and every attention projection against torch autograd
 * (interop/make_sliding_window_fixtures.py).
 */
class SlidingWindowGradientTest {

    @ParameterizedTest
    @ValueSource(strings = {"mistral-swa", "qwen2-swa"})
    void lossAndGradientsMatchTorch(String name) throws Exception {
        Path dir = Fixtures.root().resolve("sliding-window");
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(dir.resolve("models").resolve(name));
        try (SafeTensors ref = SafeTensors.open(dir.resolve("reference").resolve(name + ".safetensors"))) {
            FullGradients out = FullGradients.of(m, ref.get("train_input_ids"), ref.get("train_attention_mask"),
                    ref.get("train_labels"));
            assertThat(out.loss).isCloseTo(ref.get("train_loss").getFloat(0), within(1e-5));
            int compared = 0;
            for (Map.Entry<String, float[]> e : out.gradients.entrySet()) {
                String key = "train_grad." + e.getKey();
                if (!ref.keys().contains(key)) {
                    continue;
                }
                assertThat(FullGradients.relativeL2(e.getValue(), ref.get(key).toFloatArray())).as(e.getKey())
                        .isLessThan(1e-4);
                compared++;
            }
            assertThat(compared).isEqualTo(1 + 4 * m.numLayers());
        }
    }
}
