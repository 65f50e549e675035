package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;

/**
 * A left-padded batch whose padded row's first real token is labelled: that token is predicted from a pad position
 * whose attention row is fully masked. transformers' eager attention adds its 0 / finfo.min mask, so the row is
 * uniform over all keys and still passes gradient to q and k. Loss, gradients (embeddings, every attention weight)
 * and the logits at every position, pads included, against interop/make_mask_fixtures.py.
 */
class FullyMaskedRowParityTest {

    static Path fixture(String name) {
        return Fixtures.root().resolve("masking").resolve(name + ".safetensors");
    }

    static PreTrainedModel model(String name) throws Exception {
        JsonObject meta = Fixtures.json(Fixtures.root().resolve("masking").resolve("masking.json"));
        String folder = meta.getAsJsonObject("models").getAsJsonObject(name).get("folder").getAsString();
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve(folder));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2", "mistral-swa"})
    void lossAndGradientsMatchTorchWhenAPadPositionPredictsALabel(String name) throws Exception {
        PreTrainedModel m = model(name);
        try (SafeTensors ref = SafeTensors.open(fixture(name))) {
            long[] lab = ref.get("labels").toLongArray();
            long[] am = ref.get("attention_mask").toLongArray();
            int seq = (int) ref.get("labels").dim(1);
            int firstReal = 0;
            while (am[seq + firstReal] == 0) {
                firstReal++;
            }
            assertThat(firstReal).isGreaterThan(0);
            assertThat(lab[seq + firstReal]).isNotEqualTo(-100L);   // the case this test is about
            FullGradients out = FullGradients.of(m, ref.get("input_ids"), ref.get("attention_mask"),
                    ref.get("labels"));
            assertThat(out.loss).isCloseTo(ref.get("loss").getFloat(0), within(1e-5));
            int compared = 0;
            for (Map.Entry<String, float[]> e : out.gradients.entrySet()) {
                String key = "grad." + e.getKey();
                if (!ref.keys().contains(key)) {
                    continue;
                }
                float[] want = ref.get(key).toFloatArray();
                double norm = 0;
                for (float x : want) {
                    norm += (double) x * x;
                }
                assertThat(norm).as(e.getKey()).isGreaterThan(0);
                assertThat(FullGradients.relativeL2(e.getValue(), want)).as(e.getKey()).isLessThan(1e-4);
                compared++;
            }
            assertThat(compared).isEqualTo(ref.keys().stream().filter(k -> k.startsWith("grad.")).count())
                    .isGreaterThanOrEqualTo(1 + 2 * m.numLayers());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2", "mistral-swa"})
    void logitsMatchAtEveryPositionPadsIncluded(String name) throws Exception {
        PreTrainedModel m = model(name);
        try (SafeTensors ref = SafeTensors.open(fixture(name))) {
            Tensor logits = m.logits(ref.get("input_ids"), ref.get("attention_mask"));
            assertThat(logits.shape()).containsExactly(ref.get("logits").shape());
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(1e-4);
        }
    }
}
