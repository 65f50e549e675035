package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.data.Batch;
import org.peft4j.models.CausalLM;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * LoRA training steps with gradient checkpointing: against PEFT 0.21.2 + torch autograd with
 * {@code model.gradient_checkpointing_enable()}'s math unchanged ({@code interop/fixtures/lora/train-step}: loss and
 * every LoRA gradient within 1e-4), and against the same step without checkpointing on Llama with DoRA (weight-only
 * subgraphs over trainable tensors inside each segment) and on tied-embedding GPT-2 with LoRA dropout and the model's
 * own dropout on.
 */
class LoraGradientCheckpointingTest {
    static final double TOL = 2e-5;

    @Test
    void checkpointedStepMatchesTorchAutograd() throws Exception {
        Map<String, Tensor> want = LoraTrainStepInteropTest.expected();
        PeftModel pm = LoraTrainStepInteropTest.trainable();
        pm.gradientCheckpointingEnable();
        assertThat(pm.getBaseModel().isGradientCheckpointing()).isTrue();
        try (TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared())) {
            assertThat(step.isGradientCheckpointing()).isTrue();
            TrainStep.Output out = step.run(LoraTrainStepInteropTest.batch(want));
            double wantLoss = want.get("loss").toFloatArray()[0];
            assertThat(Math.abs(out.loss() - wantLoss) / Math.abs(wantLoss)).isLessThan(LoraTrainStepInteropTest.REL_TOL);
            TreeSet<String> names = new TreeSet<>();
            for (String k : want.keySet()) {
                if (k.startsWith(LoraTrainStepInteropTest.GRAD)) {
                    names.add(k.substring(LoraTrainStepInteropTest.GRAD.length() + BaseTuner.KEY_PREFIX.length()));
                }
            }
            assertThat(names).hasSize(8);
            assertThat(new TreeSet<>(out.gradients().keySet())).isEqualTo(names);
            for (String n : names) {
                double err = LoraTrainStepInteropTest.relErr(out.gradients().get(n).toFloatArray(),
                        want.get(LoraTrainStepInteropTest.GRAD + BaseTuner.KEY_PREFIX + n).toFloatArray());
                assertThat(err).as(n).isLessThan(LoraTrainStepInteropTest.REL_TOL);
            }
        }
    }

    static Batch batch(long vocab) {
        int b = 2;
        int t = 11;
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        long[] labels = new long[b * t];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (5 + 53L * i) % vocab;
            mask[i] = i % t < (i / t == 0 ? t : t - 4) ? 1 : 0;
            labels[i] = mask[i] == 1 && i % 3 != 0 ? ids[i] : Batch.IGNORE_INDEX;
        }
        return new Batch(Tensor.of(ids, b, t), Tensor.of(mask, b, t), Tensor.of(labels, b, t));
    }

    static void assertSameWithAndWithout(CausalLM m, Batch batch, long seed) {
        PreTrainedModel base = m.baseModel();
        base.gradientCheckpointingDisable();
        TrainStep.Output plain;
        try (TrainStep s = new TrainStep(m, OrtRuntime.shared())) {
            plain = s.run(batch, seed);
        }
        base.gradientCheckpointingEnable();
        TrainStep.Output ckpt;
        try (TrainStep s = new TrainStep(m, OrtRuntime.shared())) {
            assertThat(s.isGradientCheckpointing()).isTrue();
            ckpt = s.run(batch, seed);
        } finally {
            base.gradientCheckpointingDisable();
        }
        assertThat(Math.abs(ckpt.loss() - plain.loss())).isLessThan(1e-6 * Math.abs(plain.loss()));
        assertThat(ckpt.gradients().keySet()).containsExactlyElementsOf(plain.gradients().keySet());
        for (Map.Entry<String, Tensor> e : plain.gradients().entrySet()) {
            float[] want = e.getValue().toFloatArray();
            double scale = 0;
            for (float w : want) {
                scale = Math.max(scale, Math.abs(w));
            }
            assertThat(scale).as(e.getKey()).isGreaterThan(0);
            double err = Fixtures.maxAbsDiff(ckpt.gradients().get(e.getKey()).toFloatArray(), want) / scale;
            assertThat(err).as(e.getKey()).isLessThan(TOL);
        }
    }

    @Test
    void llamaDoraGradientsAreTheSameWithAndWithoutCheckpointing() throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa"));
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(4).loraAlpha(8).initLoraWeights(false)
                .useDora(true).targetModules("q_proj", "v_proj", "down_proj").build());
        assertSameWithAndWithout(pm, batch(base.vocabSize()), 0);
    }

    @Test
    void gpt2LoraWithDropoutIsTheSameWithAndWithoutCheckpointing() throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(4).loraAlpha(8).initLoraWeights(false)
                .loraDropout(0.1).targetModules("c_attn", "c_fc").build());
        assertSameWithAndWithout(pm, batch(base.vocabSize()), 4242);
        assertSameWithAndWithout(pm, batch(base.vocabSize()), 99);
    }
}
