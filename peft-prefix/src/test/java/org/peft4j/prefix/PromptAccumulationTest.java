package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainerCallback;
import org.peft4j.train.TrainingArguments;

/**
 * Gradient accumulation with prompt tuning against transformers' own Trainer over PEFT 0.21.2
 * ({@code interop/make_prompt_accum_fixtures.py}, {@code fixtures/prompt-accum}): two micro-batches whose first
 * labels count. PEFT's forward scores the first label (the last virtual position predicts it) while transformers'
 * {@code num_items_in_batch} counts {@code labels[..., 1:]}: the step's loss is the sum of the nll over every scored
 * position divided by that count. The loss, the accumulated gradient and the weights after AdamW's step must agree.
 */
class PromptAccumulationTest {
    static final String NAME = "prompt_encoder.default.embedding.weight";

    @Test
    void accumulatedLossAndGradientsAreTransformersTrainers(@TempDir Path out) throws Exception {
        Path dir = Fixtures.root().resolve("prompt-accum");
        JsonObject c = Fixtures.json(dir.resolve("case.json"));
        Map<String, Tensor> w = PtuneFixtures.read(dir.resolve("weights.safetensors"));
        Map<String, Tensor> b = PtuneFixtures.read(dir.resolve("batches.safetensors"));
        List<Batch> batches = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            batches.add(new Batch(b.get(i + ".input_ids"), b.get(i + ".attention_mask"), b.get(i + ".labels")));
        }
        // the case is the one that matters: the first labels are scored on top of num_items_in_batch
        long items = c.get("num_items_in_batch").getAsLong();
        assertThat(batches.get(0).countedTokens() + batches.get(1).countedTokens()).isEqualTo(items);
        assertThat(c.getAsJsonArray("scored_positions").get(0).getAsLong()
                + c.getAsJsonArray("scored_positions").get(1).getAsLong()).isGreaterThan(items);

        PeftModel pm = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa")),
                new PromptTuningConfig(c.get("num_virtual_tokens").getAsInt()).taskType(TaskType.CAUSAL_LM));
        pm.namedParameters().get(NAME).data().writeFloats(w.get("init").toFloatArray());
        JsonObject ta = c.getAsJsonObject("training_arguments");
        TrainingArguments args = TrainingArguments.builder(out).learningRate(ta.get("learning_rate").getAsDouble())
                .maxSteps(1).gradientAccumulationSteps(2).weightDecay(0).maxGradNorm(0)
                .lrSchedulerType("constant").warmupSteps(0).adamEpsilon(ta.get("adam_epsilon").getAsDouble())
                .saveSteps(100).loggingSteps(1).build();
        float[][] grad = new float[1][];
        List<Double> losses;
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            losses = new Trainer(pm, args, rt).showProgress(false).addCallback(new TrainerCallback() {
                @Override
                public void onOptimizerStep(long step, Map<String, Parameter> parameters,
                        Map<String, float[]> gradients) {
                    grad[0] = gradients.get(NAME).clone();
                }
            }).train(batches);
        }
        double want = c.get("loss").getAsDouble();
        assertThat(losses).hasSize(1);
        assertThat(losses.get(0)).as("the step's loss").isCloseTo(want, within(1e-5 * want));
        float[] ref = w.get("grad").toFloatArray();
        assertThat(relErr(grad[0], ref)).as("the accumulated gradient").isLessThan(1e-4);
        float[] after = pm.namedParameters().get(NAME).data().toFloatArray();
        assertThat(relErr(after, w.get("step1").toFloatArray())).as("the weights after AdamW").isLessThan(1e-5);
    }

    /** max |a - b| / max |b|. */
    static double relErr(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double d = 0;
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
            m = Math.max(m, Math.abs(b[i]));
        }
        return d / m;
    }
}
