package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.autodiff.CheckpointedGraph;
import org.peft4j.data.Batch;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLM;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.prompt.VirtualTokensConfig;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;

/**
 * Gradient checkpointing gives the loss and gradients of the step without it: full fine-tuning of the tiny Llama and
 * of the tied-embedding GPT-2 (whose {@code wte} is read by the first segment and by the head's, so its gradient is
 * the sum of both), GPT-2 with dropout on (masks are a function of the step's seed, so the recomputed segments draw
 * the same ones), and a prompt-learning adapter. The step without checkpointing is itself held to torch autograd by
 * {@code TorchGradientParityTest} and {@code LoraTrainStepInteropTest}.
 */
class GradientCheckpointingTest {
    static final double TOL = 2e-5;

    static Batch batch(long vocab) {
        int b = 2;
        int t = 9;
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        long[] labels = new long[b * t];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (3 + 37L * i) % vocab;
            mask[i] = i % t < (i / t == 0 ? t : t - 3) ? 1 : 0; // second row right-padded
            labels[i] = mask[i] == 1 && i % 4 != 1 ? ids[i] : Batch.IGNORE_INDEX;
        }
        return new Batch(Tensor.of(ids, b, t), Tensor.of(mask, b, t), Tensor.of(labels, b, t));
    }

    /** Runs a step with and without checkpointing on the same batch and seed; returns {plain, checkpointed}. */
    static TrainStep.Output[] both(CausalLM m, Batch batch, long seed) {
        PreTrainedModel base = m.baseModel();
        base.gradientCheckpointingDisable();
        TrainStep.Output plain;
        try (TrainStep s = new TrainStep(m, OrtRuntime.shared())) {
            assertThat(s.isGradientCheckpointing()).isFalse();
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
        return new TrainStep.Output[] {plain, ckpt};
    }

    static void assertSame(TrainStep.Output[] r) {
        assertThat(r[1].loss()).isCloseTo(r[0].loss(), org.assertj.core.data.Offset.offset(1e-6 * Math.abs(r[0].loss())));
        assertThat(r[1].gradients().keySet()).containsExactlyElementsOf(r[0].gradients().keySet());
        for (Map.Entry<String, Tensor> e : r[0].gradients().entrySet()) {
            float[] want = e.getValue().toFloatArray();
            float[] got = r[1].gradients().get(e.getKey()).toFloatArray();
            double scale = 0;
            for (float w : want) {
                scale = Math.max(scale, Math.abs(w));
            }
            assertThat(scale).as("gradient of %s is not trivially zero", e.getKey()).isGreaterThan(0);
            assertThat(Fixtures.maxAbsDiff(got, want) / scale).as(e.getKey()).isLessThan(TOL);
        }
    }

    @Test
    void llamaFullFineTuningGivesTheSameLossAndGradients() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        TrainStep.Output[] r = both(m, batch(m.vocabSize()), 0);
        assertThat(r[0].gradients()).hasSize(m.namedParameters().size());
        assertSame(r);
    }

    /**
     * Sliding-window Mistral and Qwen2 (left-padded batch, per-layer windows whose masks are built at the first layer
     * that uses them) against torch autograd ({@code interop/fixtures/sliding-window}, as
     * {@code SlidingWindowGradientTest} holds the plain step).
     */
    @ParameterizedTest
    @ValueSource(strings = {"mistral-swa", "qwen2-swa"})
    void slidingWindowModelsMatchTorchAutograd(String name) throws Exception {
        Path dir = Fixtures.root().resolve("sliding-window");
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(dir.resolve("models").resolve(name));
        m.gradientCheckpointingEnable();
        try (SafeTensors ref = SafeTensors.open(dir.resolve("reference").resolve(name + ".safetensors"));
                TrainStep s = new TrainStep(m, OrtRuntime.shared())) {
            assertThat(s.isGradientCheckpointing()).isTrue();
            TrainStep.Output out = s.run(new Batch(ref.get("train_input_ids"), ref.get("train_attention_mask"),
                    ref.get("train_labels")));
            assertThat(out.loss()).isCloseTo(ref.get("train_loss").getFloat(0), org.assertj.core.data.Offset.offset(1e-5));
            int compared = 0;
            for (Map.Entry<String, Tensor> e : out.gradients().entrySet()) {
                String key = "train_grad." + e.getKey();
                if (ref.keys().contains(key)) {
                    assertThat(FullGradients.relativeL2(e.getValue().toFloatArray(), ref.get(key).toFloatArray()))
                            .as(e.getKey()).isLessThan(1e-4);
                    compared++;
                }
            }
            assertThat(compared).isEqualTo(1 + 4 * m.numLayers());
        }
    }

    @Test
    void tiedEmbeddingsGetTheSumOfTheirSegmentsGradientsWithDropoutOn() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        assertThat(m.tiedWeightKeys()).containsExactly("lm_head.weight");
        Batch b = batch(m.vocabSize());
        TrainStep.Output[] r = both(m, b, 12345);
        assertSame(r);
        // dropout is really on: another seed gives another loss, and the checkpointed step follows it
        TrainStep.Output[] other = both(m, b, 777);
        assertThat(Math.abs(other[0].loss() - r[0].loss())).isGreaterThan(1e-4);
        assertSame(other);
    }

    @Test
    void promptLearningParametersGetTheirGradient() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa"));
        PeftModel pm = Peft.getPeftModel(m, new VirtualTokensConfig(3));
        TrainStep.Output[] r = both(pm, batch(m.vocabSize()), 0);
        assertThat(r[0].gradients()).hasSize(1);
        assertSame(r);
    }

    @Test
    void segmentsKeepOnlyEachLayersInputAndSharedValues() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.gradientCheckpointingEnable();
        try (TrainStep s = new TrainStep(m, OrtRuntime.shared())) {
            // the plain forward graph has no backward; each decoder layer's output is marked
            assertThat(s.graph().checkpoints()).hasSize(m.numLayers());
            assertThat(s.graph().nodes()).noneMatch(n -> n.name().startsWith("grad/"));
            List<CheckpointedGraph.Segment> segs = CheckpointedGraph.build(s.graph(), lossOf(s.graph()),
                    s.graph().parameters()).segments();
            // embeddings + layer 0, layer 1, then norm + head + loss
            assertThat(segs).hasSize(m.numLayers() + 1);
            assertThat(segs.get(segs.size() - 1).forward()).isNull();
            long hidden = m.hiddenSize();
            for (CheckpointedGraph.Segment seg : segs) {
                Graph bw = seg.backward();
                for (Value in : bw.inputs()) {
                    if (in.dtype().isFloating()) {
                        // a saved activation is [batch, seq, hidden] (a layer's input or its upstream gradient);
                        // the rest are rotary tables [.., seq, head_dim]
                        boolean activation = in.rank() == 3 && in.shape().dim(0).equals(Dim.of("batch"))
                                && in.shape().dim(2).equals(Dim.of(hidden));
                        boolean rotary = in.shape().dim(-1).equals(Dim.of(m.headDim()));
                        assertThat(activation || rotary).as("%s in segment %d", in, seg.index()).isTrue();
                    }
                }
            }
        } finally {
            m.gradientCheckpointingDisable();
        }
    }

    /** The loss value of a checkpointed step's forward graph (the last node's output). */
    private static Value lossOf(Graph g) {
        return g.nodes().get(g.nodes().size() - 1).output(0);
    }

    @Test
    void trainerEnablesItFromTheArgumentsAndTrainsAsWithout(@TempDir Path out) throws Exception {
        Batch b = batch(256);
        List<Double> plain;
        List<Double> ckpt;
        PreTrainedModel m1 = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        plain = new Trainer(m1, TrainingArguments.builder(out.resolve("a")).maxSteps(3).learningRate(1e-2)
                .build(), OrtRuntime.shared()).showProgress(false).train(List.of(b));
        assertThat(m1.isGradientCheckpointing()).isFalse();
        PreTrainedModel m2 = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        ckpt = new Trainer(m2, TrainingArguments.builder(out.resolve("b")).maxSteps(3).learningRate(1e-2)
                .gradientCheckpointing(true).build(), OrtRuntime.shared()).showProgress(false).train(List.of(b));
        assertThat(m2.isGradientCheckpointing()).isTrue();
        assertThat(plain.get(2)).isLessThan(plain.get(0));
        for (int i = 0; i < 3; i++) {
            assertThat(ckpt.get(i)).isCloseTo(plain.get(i), org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    @Test
    void theFixedTrainableSetIsStillEnforced() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.requiresGrad(false);
        m.getParameter("model.layers.1.self_attn.v_proj.weight").setTrainable(true);
        m.gradientCheckpointingEnable();
        try (TrainStep s = new TrainStep(m, OrtRuntime.shared())) {
            Batch b = batch(m.vocabSize());
            TrainStep.Output o = s.run(b);
            assertThat(o.gradients()).containsOnlyKeys("model.layers.1.self_attn.v_proj.weight");
            m.getParameter("model.layers.0.self_attn.v_proj.weight").setTrainable(true);
            assertThatThrownBy(() -> s.run(b)).hasMessageContaining("build a new TrainStep");
        }
    }
}
