package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Float16 ChatGLM logits against THUDM's modeling_chatglm.py run in float16 on the CPU (transformers 4.40.2, the model
 * {@code .half()} as THUDM's README loads it; {@code interop/make_chatglm_half_fixtures.py},
 * {@code interop/fixtures/chatglm/half.safetensors}), on a left-padded batch, at the valid positions. Tolerance as
 * {@link HalfPrecisionParityTest}'s (0.125, 16 float16 ulps at the logits' scale; torch's own float16-vs-float32 gap
 * on this model is 0.023, the bugs it guards against move logits by whole units).
 */
class ChatGLMHalfPrecisionTest {
    static final double TOL = 0.125;

    @Test
    void float16LogitsMatchModelingChatglm() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("chatglm").resolve("model"),
                DType.F16);
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("chatglm").resolve("half.safetensors"))) {
            Tensor logits = m.logits(ref.get("input_ids"), ref.get("attention_mask"));
            assertThat(logits.dtype()).isEqualTo(DType.F16);
            assertThat(logits.shape()).containsExactly(ref.get("logits_f16").shape());
            float[] got = logits.toFloatArray();
            float[] want = ref.get("logits_f16").toFloatArray();
            float[] f32 = ref.get("logits_f32").toFloatArray();
            long[] mask = ref.get("attention_mask").toLongArray();
            int vocab = (int) logits.dim(-1);
            double maxDiff = 0;
            double gap = 0;
            int checked = 0;
            for (int pos = 0; pos < mask.length; pos++) {
                if (mask[pos] == 0) {
                    continue;
                }
                checked++;
                for (int v = 0; v < vocab; v++) {
                    int i = pos * vocab + v;
                    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
                    gap = Math.max(gap, Math.abs(want[i] - f32[i]));
                }
            }
            System.out.printf("chatglm float16 logits max diff %.4f (torch float16 vs float32 %.4f)%n", maxDiff, gap);
            assertThat(checked).isEqualTo(11);
            assertThat(maxDiff).as("chatglm float16 logits vs modeling_chatglm").isLessThan(TOL);
        }
    }
}
