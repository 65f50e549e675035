package org.peft4j.peft.prompt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Embedding;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * The throwaway proof that the core is open to prompt learning: a test-only tuner of a few virtual-token embeddings
 * ({@link VirtualTokensTuner}) computes, trains through the unchanged {@link Trainer} and generates through the
 * unchanged {@link Generator}. The reference is the base model itself: when the virtual embeddings are copies of the
 * embeddings of tokens {@code V}, the PEFT model on {@code ids} must behave exactly as the base model on
 * {@code V + ids} with the virtual positions dropped.
 */
class PromptLearningCoreTest {
    static final long[] V = {11, 12, 13};
    static final int N = V.length;

    static PreTrainedModel base() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa"));
    }

    /** A PEFT model whose virtual embeddings equal the base model's embeddings of the tokens {@link #V}. */
    static PeftModel withVirtualCopiesOf(PreTrainedModel m) {
        PeftModel pm = Peft.getPeftModel(m, new VirtualTokensConfig(N));
        Tensor table = m.inputEmbeddings() instanceof Embedding ? ((Embedding) m.inputEmbeddings()).weight().data()
                : null;
        long hidden = m.hiddenSize();
        float[] all = table.toFloatArray();
        float[] rows = new float[(int) (N * hidden)];
        for (int i = 0; i < N; i++) {
            System.arraycopy(all, (int) (V[i] * hidden), rows, (int) (i * hidden), (int) hidden);
        }
        promptWeight(pm).data().writeFloats(rows);
        return pm;
    }

    static Parameter promptWeight(PeftModel pm) {
        return pm.namedParameters().get("prompt_encoder.default.weight");
    }

    static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void registersThroughTheRegistryAndCountsParameters() throws Exception {
        PreTrainedModel m = base();
        long all = m.numParameters();
        PeftModel pm = Peft.getPeftModel(m, new VirtualTokensConfig(N));
        long hidden = m.hiddenSize();
        assertThat(pm.getNbTrainableParameters()).containsExactly(N * hidden, all + N * hidden);
        assertThat(m.numTrainableParameters()).as("the backbone is frozen").isZero();
        assertThat(pm.activePeftConfig().peftType().isPromptLearning()).isTrue();
        // PEFT 0.21.2: the base_model of a prompt-learning PeftModel is the transformers model, which has no merge
        assertThatThrownBy(pm::mergeAndUnload).isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("'LlamaForCausalLM' object has no attribute 'merge_and_unload'");
        assertThatThrownBy(pm::unload).isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("'LlamaForCausalLM' object has no attribute 'unload'");
    }

    @Test
    void everyOpOfThePromptLearningGraphsHasACudaKernel() throws Exception {
        PeftModel pm = Peft.getPeftModel(base(), new VirtualTokensConfig(N));
        java.util.Set<String> ops = new java.util.TreeSet<>();
        try (TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
            step.graph().nodes().forEach(n -> ops.add(org.peft4j.autodiff.Ops.key(n.domain(), n.opType())));
        }
        new Generator(pm).decodingGraph().nodes().forEach(n -> ops.add(org.peft4j.autodiff.Ops.key(n.domain(),
                n.opType())));
        assertThat(ops).contains("Slice", "ConstantOfShape", "Expand").allSatisfy(op -> assertThat(
                org.peft4j.autodiff.Ops.all().stream().anyMatch(d -> org.peft4j.autodiff.Ops.key(d.domain(),
                        d.opType()).equals(op) && d.hasCudaKernel())).as("%s has a CUDA kernel", op).isTrue());
    }

    @Test
    void logitsEqualTheBaseModelOnTheVirtualTokensFollowedByTheInput() throws Exception {
        PreTrainedModel m = base();
        long[] ids = {5, 9, 17, 2, 44, 6, 31, 8, 0, 0, 20, 21, 22, 23, 24, 25};   // two rows of 8, second left-padded
        long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
        Tensor want = expectedLogits(m, ids, mask, 2, 8);
        PeftModel pm = withVirtualCopiesOf(m);
        Tensor got = pm.logits(Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8));
        assertThat(got.shape()).containsExactly(2, 8, m.vocabSize());
        assertThat(Fixtures.maxAbsDiff(got.toFloatArray(), want.toFloatArray())).isLessThan(1e-5);
        // disabled, the PEFT model is the base model
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            Tensor plain = m.logits(Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8));
            assertThat(Fixtures.maxAbsDiff(pm.logits(Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8)).toFloatArray(),
                    plain.toFloatArray())).isZero();
        }
    }

    /** The base model's logits on V + row for each row, the virtual positions dropped. */
    private static Tensor expectedLogits(PreTrainedModel m, long[] ids, long[] mask, int rows, int len) {
        long vocab = m.vocabSize();
        float[] out = new float[(int) (rows * len * vocab)];
        long[] vMask = new long[N];
        Arrays.fill(vMask, 1);
        long[] allIds = new long[rows * (N + len)];
        long[] allMask = new long[allIds.length];
        for (int r = 0; r < rows; r++) {
            long[] row = concat(V, Arrays.copyOfRange(ids, r * len, (r + 1) * len));
            long[] rowMask = concat(vMask, Arrays.copyOfRange(mask, r * len, (r + 1) * len));
            System.arraycopy(row, 0, allIds, r * (N + len), N + len);
            System.arraycopy(rowMask, 0, allMask, r * (N + len), N + len);
        }
        float[] full = m.logits(Tensor.of(allIds, rows, N + len), Tensor.of(allMask, rows, N + len)).toFloatArray();
        for (int r = 0; r < rows; r++) {
            System.arraycopy(full, (int) ((r * (N + len) + N) * vocab), out, (int) (r * len * vocab),
                    (int) (len * vocab));
        }
        return Tensor.of(out, rows, len, vocab);
    }

    @Test
    void generatesThroughTheUnchangedGeneratorAsTheBaseModelOnTheVirtualTokens() throws Exception {
        PreTrainedModel m = base();
        long[][] prompts = {{5, 9, 17, 2, 44}, {0, 0, 20, 21, 22}};
        long[][] masks = {{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}};
        GenerationConfig cfg = GenerationConfig.greedy(8);
        PeftModel pm = withVirtualCopiesOf(m);
        long[][] got = new Generator(pm).generate(prompts, masks, cfg);
        for (int b = 0; b < 2; b++) {
            // the Generator passes cumsum(mask) - 1 as positions; as PEFT, prompt learning drops them, so the model
            // numbers V + row 0, 1, 2, ... padding included: the base model's greedy tokens with those positions
            long[] want = greedyWithCountingPositions(m, concat(V, prompts[b]), concat(new long[] {1, 1, 1},
                    masks[b]), got[b].length - prompts[b].length);
            assertThat(Arrays.copyOfRange(got[b], 0, prompts[b].length)).containsExactly(prompts[b]);
            assertThat(Arrays.copyOfRange(got[b], prompts[b].length, got[b].length)).as("row %d", b)
                    .containsExactly(want);
            assertThat(got[b].length).isGreaterThan(prompts[b].length);
        }
        // the padded row differs from what cumsum(mask) - 1 positions would give (so the check above can fail)
        long[] shifted = new Generator(m).generate(new long[][] {concat(V, prompts[1])},
                new long[][] {concat(new long[] {1, 1, 1}, masks[1])}, cfg)[0];
        assertThat(Arrays.copyOfRange(shifted, N, shifted.length)).isNotEqualTo(got[1]);
        assertThat(pm.generate(prompts, masks, cfg)).isDeepEqualTo(got);
    }

    @Test
    void explicitPositionIdsAreDroppedAsPeftDoes() throws Exception {
        PreTrainedModel m = base();
        long[] ids = {5, 9, 17, 2, 44, 6, 31, 8, 0, 0, 20, 21, 22, 23, 24, 25};   // the second row left-padded
        long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
        long[] cumsum = {0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 1, 2, 3, 4, 5};          // what generate passes
        Tensor want = expectedLogits(m, ids, mask, 2, 8);  // the base model on V + row, counting 0, 1, 2, ...
        PeftModel pm = withVirtualCopiesOf(m);
        Tensor got = logitsWithPositions(pm, Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8), Tensor.of(cumsum, 2, 8));
        assertThat(Fixtures.maxAbsDiff(got.toFloatArray(), want.toFloatArray())).isLessThan(1e-5);
        // any other explicit positions give the same logits
        long[] far = new long[16];
        Arrays.setAll(far, i -> 40 + i);
        Tensor other = logitsWithPositions(pm, Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8), Tensor.of(far, 2, 8));
        assertThat(Fixtures.maxAbsDiff(other.toFloatArray(), want.toFloatArray())).isLessThan(1e-5);
    }

    /** The logits of {@code model} with explicit position ids. */
    static Tensor logitsWithPositions(org.peft4j.models.CausalLM model, Tensor ids, Tensor mask, Tensor pos) {
        org.peft4j.graph.Graph g = new org.peft4j.graph.Graph();
        org.peft4j.graph.Value in = g.input("input_ids", org.peft4j.tensor.DType.I64,
                org.peft4j.graph.Dim.of("batch"), org.peft4j.graph.Dim.of("seq"));
        org.peft4j.graph.Value am = g.input("attention_mask", org.peft4j.tensor.DType.I64,
                org.peft4j.graph.Dim.of("batch"), org.peft4j.graph.Dim.of("seq"));
        org.peft4j.graph.Value p = g.input("position_ids", org.peft4j.tensor.DType.I64,
                org.peft4j.graph.Dim.of("batch"), org.peft4j.graph.Dim.of("seq"));
        g.output("logits", model.forward(g, org.peft4j.models.CausalLMInput.of(in).attentionMask(am).positionIds(p))
                .logits());
        try (org.peft4j.runtime.CompiledGraph cg = OrtRuntime.shared().compile(g, x -> false)) {
            return cg.run(java.util.Map.of("input_ids", ids, "attention_mask", mask, "position_ids", pos))
                    .get("logits");
        }
    }

    /** {@code steps} greedy tokens of the base model (no cache) with positions 0, 1, 2, ... over every column. */
    static long[] greedyWithCountingPositions(PreTrainedModel m, long[] ids, long[] mask, int steps) {
        long[] out = new long[steps];
        long vocab = m.vocabSize();
        for (int s = 0; s < steps; s++) {
            int t = ids.length;
            long[] pos = new long[t];
            Arrays.setAll(pos, i -> i);
            float[] l = logitsWithPositions(m, Tensor.of(ids, 1, t), Tensor.of(mask, 1, t), Tensor.of(pos, 1, t))
                    .toFloatArray();
            int best = 0;
            for (int v = 1; v < vocab; v++) {
                if (l[(int) ((t - 1) * vocab + v)] > l[(int) ((t - 1) * vocab + best)]) {
                    best = v;
                }
            }
            out[s] = best;
            ids = concat(ids, new long[] {best});
            mask = concat(mask, new long[] {1});
        }
        return out;
    }

    @Test
    void trainsOnlyTheVirtualTokensThroughTheUnchangedTrainerWithGradientsMatchingFiniteDifferences(
            @TempDir Path out) throws Exception {
        PreTrainedModel m = base();
        PeftModel pm = Peft.getPeftModel(m, new VirtualTokensConfig(N));
        long[] ids = {5, 9, 17, 2, 44, 6, 31, 8};
        long[] mask = new long[ids.length];
        Arrays.fill(mask, 1);
        Batch batch = new Batch(Tensor.of(ids, 1, ids.length), Tensor.of(mask, 1, ids.length),
                Tensor.of(ids, 1, ids.length));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            Tensor grad;
            try (TrainStep step = new TrainStep(pm, rt)) {
                assertThat(step.trainable()).containsOnlyKeys("prompt_encoder.default.weight");
                grad = step.run(batch).gradients().get("prompt_encoder.default.weight");
                // central differences on the three largest components
                float[] g = grad.toFloatArray();
                Integer[] order = new Integer[g.length];
                for (int i = 0; i < g.length; i++) {
                    order[i] = i;
                }
                Arrays.sort(order, (a, b) -> Float.compare(Math.abs(g[b]), Math.abs(g[a])));
                Tensor w = promptWeight(pm).data();
                double eps = 1e-4;  // the embeddings are ~0.02 and RMSNorm amplifies them: keep the step small
                for (int k = 0; k < 3; k++) {
                    int i = order[k];
                    float orig = w.getFloat(i);
                    w.write(b -> b.putFloat(i * 4, (float) (orig + eps)));
                    double up = step.evaluate(batch);
                    w.write(b -> b.putFloat(i * 4, (float) (orig - eps)));
                    double down = step.evaluate(batch);
                    w.write(b -> b.putFloat(i * 4, orig));
                    double fd = (up - down) / (2 * eps);
                    assertThat(g[i]).as("component %d", i).isCloseTo((float) fd, within((float) (0.02 * Math.abs(fd)
                            + 1e-4)));
                }
                // the trainable set is fixed: disabling the adapter around a built step is refused clearly
                try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
                    assertThatThrownBy(() -> step.run(batch)).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("build a new TrainStep");
                }
                assertThat(step.run(batch).loss()).isFinite();
            }
            float[] before = promptWeight(pm).data().toFloatArray();
            float[] baseBefore = m.getParameter("model.layers.0.self_attn.q_proj.weight").data().toFloatArray();
            TrainingArguments args = TrainingArguments.builder(out).learningRate(5e-2).maxSteps(15).saveSteps(15)
                    .loggingSteps(5).build();
            List<Double> losses = new Trainer(pm, args, rt).showProgress(false).train(List.of(batch));
            assertThat(losses.get(14)).isLessThan(losses.get(0) * 0.8);
            assertThat(promptWeight(pm).data().toFloatArray()).isNotEqualTo(before);
            assertThat(m.getParameter("model.layers.0.self_attn.q_proj.weight").data().toFloatArray())
                    .as("the backbone stays frozen").isEqualTo(baseBefore);
            // the checkpoint holds the adapter as PEFT saves it, and it loads back to the same logits
            Path ckpt = out.resolve("checkpoint-15");
            assertThat(ckpt.resolve("adapter_model.safetensors")).exists();
            assertThat(ckpt.resolve("adapter_config.json")).exists();
            PeftModel loaded = PeftModel.fromPretrained(base(), ckpt);
            Tensor x = Tensor.of(ids, 1, ids.length);
            assertThat(Fixtures.maxAbsDiff(loaded.logits(rt, x, null).toFloatArray(),
                    pm.logits(rt, x, null).toFloatArray())).isZero();
        }
    }

    @Test
    void theTunersLossHookReachesTheTrainingStep() throws Exception {
        long[] ids = {5, 9, 17, 2, 44, 6, 31, 8};
        long[] mask = new long[ids.length];
        Arrays.fill(mask, 1);
        Batch batch = new Batch(Tensor.of(ids, 1, ids.length), Tensor.of(mask, 1, ids.length),
                Tensor.of(ids, 1, ids.length));
        double l2 = 3.0;
        PeftModel plain = Peft.getPeftModel(base(), new VirtualTokensConfig(N));
        PeftModel reg = Peft.getPeftModel(base(), new VirtualTokensConfig(N).withL2(l2));
        float[] w = promptWeight(plain).data().toFloatArray();
        promptWeight(reg).data().writeFloats(w);
        String name = "prompt_encoder.default.weight";
        try (TrainStep a = new TrainStep(plain, OrtRuntime.shared()); TrainStep b = new TrainStep(reg,
                OrtRuntime.shared())) {
            TrainStep.Output oa = a.run(batch);
            TrainStep.Output ob = b.run(batch);
            double sq = 0;
            for (float x : w) {
                sq += (double) x * x;
            }
            assertThat(ob.loss()).isCloseTo(oa.loss() + l2 * sq, within(1e-5));
            float[] ga = oa.gradients().get(name).toFloatArray();
            float[] gb = ob.gradients().get(name).toFloatArray();
            for (int i = 0; i < w.length; i++) {
                assertThat(gb[i]).isCloseTo((float) (ga[i] + 2 * l2 * w[i]), within(1e-4f));
            }
        }
    }

    @Test
    void oneActivePromptAdapterAtATimeAndOnlyItTrains() throws Exception {
        PreTrainedModel m = base();
        PeftModel pm = Peft.getPeftModel(m, new VirtualTokensConfig(N));
        pm.addAdapter("other", new VirtualTokensConfig(2));
        assertThat(pm.activeAdapters()).containsExactly("default");
        assertThat(pm.namedParameters().get("prompt_encoder.default.weight").trainable()).isTrue();
        assertThat(pm.namedParameters().get("prompt_encoder.other.weight").trainable()).isFalse();
        Tensor x = Tensor.of(new long[] {5, 9, 17}, 1, 3);
        float[] withDefault = pm.logits(x, null).toFloatArray();
        pm.setAdapter("other");
        assertThat(pm.namedParameters().get("prompt_encoder.default.weight").trainable()).isFalse();
        assertThat(pm.namedParameters().get("prompt_encoder.other.weight").trainable()).isTrue();
        assertThat(pm.logits(x, null).toFloatArray()).as("another prompt, other logits").isNotEqualTo(withDefault);
        try (TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
            assertThat(step.trainable()).containsOnlyKeys("prompt_encoder.other.weight");
        }
        assertThatThrownBy(() -> pm.setAdapters(java.util.List.of("default", "other")))
                .hasMessageContaining("only have one active adapter");
        pm.deleteAdapter("other");
        assertThat(pm.activeAdapters()).containsExactly("default");
        assertThat(pm.logits(x, null).toFloatArray()).containsExactly(withDefault);
        // transformers' decay rule over the PEFT model: the prompt decays, the frozen backbone's norms do not
        assertThat(pm.decayParameterNames()).contains("prompt_encoder.default.weight",
                "base_model.model.layers.0.self_attn.q_proj.weight")
                .doesNotContain("base_model.model.norm.weight", "base_model.model.layers.0.input_layernorm.weight");
    }
}
