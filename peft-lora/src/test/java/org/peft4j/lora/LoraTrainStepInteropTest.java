package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * One LoRA training step against PEFT 0.21.2 + torch autograd ({@code interop/fixtures/lora/train-step}): the adapter
 * loaded trainable onto llama-mha, forward + causal-LM loss + backward in peft4j's training graph give PEFT's loss and
 * the gradient of every LoRA parameter within a relative error of 1e-4; only the 8 LoRA tensors are trained.
 */
class LoraTrainStepInteropTest {
    static final double REL_TOL = 1e-4;
    static final String GRAD = "grad.";

    static Path dir() {
        return Fixtures.root().resolve("lora").resolve("train-step");
    }

    static Map<String, Tensor> expected() throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(dir().resolve("expected.safetensors"))) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    static PeftModel trainable() throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        return PeftModel.fromPretrained(base, dir().resolve("adapter"), "default", true);
    }

    static Batch batch(Map<String, Tensor> want) {
        return new Batch(want.get("input_ids"), want.get("attention_mask"), want.get("labels"));
    }

    /** max |got - want| / max |want|. */
    static double relErr(float[] got, float[] want) {
        double scale = 0;
        for (float w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        return Fixtures.maxAbsDiff(got, want) / scale;
    }

    @Test
    void lossAndLoraGradientsMatchTorchAutograd() throws Exception {
        Map<String, Tensor> want = expected();
        assertThat(want.get("loss").rank()).isZero();
        PeftModel pm = trainable();
        TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared());

        TreeSet<String> wantNames = new TreeSet<>();
        for (String k : want.keySet()) {
            if (k.startsWith(GRAD)) {
                String peftName = k.substring(GRAD.length());
                assertThat(peftName).startsWith(BaseTuner.KEY_PREFIX);
                wantNames.add(peftName.substring(BaseTuner.KEY_PREFIX.length()));
            }
        }
        assertThat(wantNames).hasSize(8).allMatch(n -> n.contains(".lora_A.default.") || n.contains(".lora_B.default."));
        // exactly the LoRA tensors are trained: no base weight
        assertThat(new TreeSet<>(step.trainable().keySet())).isEqualTo(wantNames);
        assertThat(step.trainable().keySet()).noneMatch(n -> n.contains("base_layer") || !n.contains("lora_"));

        TrainStep.Output out = step.run(batch(want));
        double wantLoss = want.get("loss").toFloatArray()[0];
        double lossErr = Math.abs(out.loss() - wantLoss) / Math.abs(wantLoss);
        System.out.printf("train-step loss %.8f vs PEFT %.8f (rel %.2e)%n", out.loss(), wantLoss, lossErr);
        assertThat(lossErr).isLessThan(REL_TOL);
        assertThat(out.gradients().keySet()).isEqualTo(step.trainable().keySet());
        for (String n : wantNames) {
            Tensor g = out.gradients().get(n);
            Tensor w = want.get(GRAD + BaseTuner.KEY_PREFIX + n);
            assertThat(g.shape()).as(n).isEqualTo(w.shape());
            double err = relErr(g.toFloatArray(), w.toFloatArray());
            System.out.printf("train-step grad %s rel %.2e%n", n, err);
            assertThat(err).as(n).isLessThan(REL_TOL);
        }
    }

    @Test
    void oneAdamWStepChangesOnlyTheLoraTensors(@TempDir Path out) throws Exception {
        Map<String, Tensor> want = expected();
        PeftModel pm = trainable();
        Map<String, float[]> before = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : pm.getBaseModel().namedParameters().entrySet()) {
            before.put(e.getKey(), e.getValue().data().toFloatArray());
        }
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-3).maxSteps(1).build();
        List<Double> losses = new Trainer(pm.getBaseModel(), args, OrtRuntime.shared()).showProgress(false)
                .train(List.of(batch(want)));
        assertThat(Math.abs(losses.get(0) - want.get("loss").toFloatArray()[0])).isLessThan(1e-3);
        for (Map.Entry<String, Parameter> e : pm.getBaseModel().namedParameters().entrySet()) {
            boolean same = java.util.Arrays.equals(before.get(e.getKey()), e.getValue().data().toFloatArray());
            assertThat(same).as(e.getKey()).isEqualTo(!e.getKey().contains("lora_"));
        }
    }
}
