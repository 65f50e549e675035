package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Logits, training, logits again: the second logits must come from a session built for the trained weights. On the
 * CPU a stale session can still answer right (with prepacking off ORT reads the weight buffers in place), while a
 * CUDA session copies its weights when it is created and would answer with the old ones; so the test checks that the
 * optimizer's in-place writes changed the weights' versions and that the logits graph no longer maps to the session
 * compiled before training, and only then the values (against a fresh runtime).
 */
class TrainingThenLogitsTest {
    @Test
    void logitsAfterTrainingRunOnANewSessionWithTheTrainedWeights(@TempDir Path out) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.requiresGrad(false);
        Parameter q = m.getParameter("model.layers.0.self_attn.q_proj.weight");
        Parameter v = m.getParameter("model.layers.1.self_attn.v_proj.weight");
        q.setTrainable(true);
        v.setTrainable(true);
        Tensor ids = Tensor.of(TrainerTest.SEQ, 1, TrainerTest.SEQ.length);
        RuntimeOptions copying = RuntimeOptions.builder().optZeroCopyWeights(false).build();
        try (OrtRuntime rt = new OrtRuntime(copying)) {
            float[] before = m.logits(rt, ids, null).toFloatArray();
            CompiledGraph sessionBefore = rt.compile(logitsGraph(m), p -> false);
            long qVersion = q.data().version();
            TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(5).build();
            new Trainer(m, args, rt).showProgress(false).train(List.of(TrainerTest.batch()));
            assertThat(q.data().version()).as("every optimizer write marks the weight modified")
                    .isGreaterThanOrEqualTo(qVersion + 5);
            CompiledGraph sessionAfter = rt.compile(logitsGraph(m), p -> false);
            assertThat(sessionAfter.sharesSessionWith(sessionBefore)).as("the session was rebuilt").isFalse();
            float[] after = m.logits(rt, ids, null).toFloatArray();
            float[] fresh;
            try (OrtRuntime other = new OrtRuntime(copying)) {
                fresh = m.logits(other, ids, null).toFloatArray();
            }
            assertThat(Fixtures.maxAbsDiff(after, before)).as("training changed the logits").isGreaterThan(1e-3);
            assertThat(after).containsExactly(fresh);
            sessionBefore.close();
            sessionAfter.close();
        }
    }

    @Test
    void aBuiltStepRefusesToRunAfterTheTrainableSetChanged() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.requiresGrad(false);
        m.getParameter("model.layers.1.self_attn.v_proj.weight").setTrainable(true);
        Batch batch = TrainerTest.batch();
        try (TrainStep step = new TrainStep(m, OrtRuntime.shared())) {
            assertThat(step.run(batch).loss()).isFinite();
            m.getParameter("model.layers.0.self_attn.q_proj.weight").setTrainable(true);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> step.run(batch))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("build a new TrainStep");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> step.evaluate(batch))
                    .hasMessageContaining("build a new TrainStep");
            m.getParameter("model.layers.0.self_attn.q_proj.weight").setTrainable(false);
            assertThat(step.run(batch).loss()).as("back to the state it was built for").isFinite();
        }
    }

    /** The graph {@code CausalLM#logits} emits without a mask. */
    private static Graph logitsGraph(PreTrainedModel m) {
        Graph g = new Graph();
        Value x = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        g.output("logits", m.forward(g, CausalLMInput.of(x)).logits());
        return g;
    }
}
