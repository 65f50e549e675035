package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Node;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Full fine-tuning of a tiny Llama through the ORT training graph memorises a short sequence. */
class TrainerTest {
    static final long[] SEQ = {7, 21, 3, 88, 14, 60, 5, 31, 9, 42};

    static Batch batch() {
        long[] mask = new long[SEQ.length];
        java.util.Arrays.fill(mask, 1);
        return new Batch(Tensor.of(SEQ, 1, SEQ.length), Tensor.of(mask, 1, SEQ.length), Tensor.of(SEQ, 1,
                SEQ.length));
    }

    @Test
    void fullFineTuningMemorisesASequence(@TempDir Path out) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(40).warmupSteps(2)
                .loggingSteps(10).build();
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            List<Double> losses = new Trainer(m, args, rt).train(List.of(batch()));
            assertThat(losses).hasSize(40);
            assertThat(losses.get(0)).isGreaterThan(3.0);
            assertThat(losses.get(39)).isLessThan(0.05);
            // the trained weights generate the memorised continuation from its first token
            long[] gen = new Generator(m, rt).generate(new long[] {SEQ[0]}, GenerationConfig.greedy(SEQ.length - 1));
            assertThat(gen).containsExactly(SEQ);
        }
    }

    @Test
    void frozenModelsHaveNoGradientsAndNanLossStops(@TempDir Path out) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.requiresGrad(false);
        assertThatThrownBy(() -> new TrainStep(m, OrtRuntime.shared())).hasMessageContaining("no trainable");
        m.getParameter("model.layers.1.self_attn.v_proj.weight").setTrainable(true);
        TrainStep step = new TrainStep(m, OrtRuntime.shared());
        assertThat(step.trainable()).containsOnlyKeys("model.layers.1.self_attn.v_proj.weight");
        // no backward node touches layer 0's weights: its input does not depend on anything trainable
        for (Node n : step.graph().nodes()) {
            if (n.name().startsWith("grad/")) {
                assertThat(n.inputs()).noneMatch(v -> v != null && v.name().startsWith("model.layers.0."));
            }
        }
        long[] bad = SEQ.clone();
        long[] none = new long[SEQ.length];
        java.util.Arrays.fill(none, Batch.IGNORE_INDEX);
        long[] mask = new long[SEQ.length];
        java.util.Arrays.fill(mask, 1);
        Batch empty = new Batch(Tensor.of(bad, 1, SEQ.length), Tensor.of(mask, 1, SEQ.length),
                Tensor.of(none, 1, SEQ.length));
        TrainingArguments args = TrainingArguments.builder(out).maxSteps(3).build();
        assertThatThrownBy(() -> new Trainer(m, args, OrtRuntime.shared()).train(List.of(empty)))
                .hasMessageContaining("at step 1");
    }
}
