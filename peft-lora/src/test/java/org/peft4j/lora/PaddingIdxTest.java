package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Embedding;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * torch's {@code padding_idx} in training, against transformers 5.23 + PEFT 0.21.2
 * ({@code interop/make_padding_idx_fixtures.py}): with {@code pad_token_id} 2 the Llama embedding's row 2 gets no
 * gradient, in PEFT's trainable copy ({@code modules_to_save=["embed_tokens"]}) and in the padding column of
 * {@code lora_embedding_A} (PEFT's {@code lora.Embedding} passes {@code padding_idx}); one training step's loss and
 * every gradient match PEFT on inputs that contain the pad id.
 */
class PaddingIdxTest {
    static Path dir() {
        return Fixtures.root().resolve("padding-idx");
    }

    @ParameterizedTest
    @ValueSource(strings = {"save", "lora-embed"})
    void oneStepsGradientsMatchPeftWithThePadIdInTheInputs(String name) throws Exception {
        Map<String, Tensor> want = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(dir().resolve(name).resolve("expected.safetensors"))) {
            for (String k : st.keys()) {
                want.put(k, st.get(k).copy());
            }
        }
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(dir().resolve("model"));
        assertThat(((Embedding) base.getSubmodule("model.embed_tokens")).paddingIdx()).isEqualTo(2L);
        PeftModel pm = PeftModel.fromPretrained(base, dir().resolve(name).resolve("adapter"), "default", true);
        Tensor ids = want.get("input_ids");
        long[] m = new long[(int) ids.numel()];
        java.util.Arrays.fill(m, 1L);
        try (TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared())) {
            TreeSet<String> names = new TreeSet<>();
            for (String k : want.keySet()) {
                if (k.startsWith("grad.")) {
                    names.add(k.substring("grad.".length() + BaseTuner.KEY_PREFIX.length()));
                }
            }
            assertThat(new TreeSet<>(step.trainable().keySet())).isEqualTo(names);
            TrainStep.Output out = step.run(new Batch(ids, Tensor.of(m, ids.shape()), want.get("labels")));
            double wantLoss = want.get("loss").toFloatArray()[0];
            assertThat(Math.abs(out.loss() - wantLoss) / wantLoss).as("loss").isLessThan(1e-5);
            for (String n : names) {
                float[] got = out.gradients().get(n).toFloatArray();
                float[] exp = want.get("grad." + BaseTuner.KEY_PREFIX + n).toFloatArray();
                assertThat(Fixtures.maxAbsDiff(got, exp)).as(n).isLessThan(1e-5);
            }
        }
    }
}
