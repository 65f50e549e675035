package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * peft4j's {@link Trainer} step by step against transformers' own {@code Trainer} (interop/make_trainer_fixtures.py,
 * fixtures/trainer/&lt;case&gt;): full fine-tuning of the tiny Qwen2 on the same micro-batches in the same order with
 * the same arguments; after every optimizer step every trainable weight, the learning rate and the logged loss must
 * agree.
 *
 * <p>Weights are compared per tensor by the relative error {@code max|java - torch| / max|torch|} (1e-5): the
 * updates are of the order of the learning rate (1e-2) on weights of magnitude 0.3 to 2, so a wrong update of even a
 * few elements shows, while float32 rounding differences between ONNX Runtime and torch (about 1e-7 of the weights'
 * scale after a few steps) do not.
 */
class TrainerReferenceTest {
    static final double WEIGHT_RTOL = 1e-5;
    /**
     * Key biases: under RoPE the components in the slowly rotating frequency pairs are almost invariant under the
     * attention softmax (a constant added to every score of a row), so their exact gradients are about 1e-6 of the
     * tensor's largest and come out of torch and ORT with several per cent of cancellation error (measured: 4.16e-7
     * vs 4.42e-7, while the tensor agrees to 2e-7 of its largest element). AdamW scales every element's update to
     * about the learning rate whatever its gradient, so these elements legitimately differ by a few per cent of a
     * step: they must agree within this fraction of the summed learning rates (measured 0.55%).
     */
    static final double KEY_BIAS_STEP_FRACTION = 0.05;

    /** One fixture case: its case.json, micro-batches and per-step reference weights. */
    static final class Case {
        final JsonObject json;
        final List<Batch> batches = new ArrayList<>();
        /** step (1-based) → parameter name → transformers' weights after that step. */
        final Map<Integer, Map<String, float[]>> weights = new LinkedHashMap<>();

        Case(String name) throws Exception {
            Path dir = Fixtures.root().resolve("trainer").resolve(name);
            json = Fixtures.json(dir.resolve("case.json"));
            try (SafeTensors st = SafeTensors.open(dir.resolve("batches.safetensors"))) {
                for (int i = 0; i < json.get("num_micro_batches").getAsInt(); i++) {
                    batches.add(new Batch(st.get(i + ".input_ids").copy(), st.get(i + ".attention_mask").copy(),
                            st.get(i + ".labels").copy()));
                }
            }
            try (SafeTensors st = SafeTensors.open(dir.resolve("weights.safetensors"))) {
                for (JsonElement s : json.getAsJsonArray("weight_steps")) {
                    Map<String, float[]> w = new LinkedHashMap<>();
                    for (JsonElement n : json.getAsJsonArray("trainable_parameters")) {
                        w.put(n.getAsString(), st.get("step" + s.getAsInt() + "." + n.getAsString()).toFloatArray());
                    }
                    weights.put(s.getAsInt(), w);
                }
            }
        }

        JsonObject args() {
            return json.getAsJsonObject("training_arguments");
        }

        JsonObject step(int s) {
            return json.getAsJsonArray("steps").get(s - 1).getAsJsonObject();
        }

        int steps() {
            return json.getAsJsonArray("steps").size();
        }

        TrainingArguments trainingArguments(Path out) {
            JsonObject a = args();
            return TrainingArguments.builder(out)
                    .perDeviceTrainBatchSize(a.get("per_device_train_batch_size").getAsInt())
                    .gradientAccumulationSteps(a.get("gradient_accumulation_steps").getAsInt())
                    .maxSteps(a.get("max_steps").getAsLong())
                    .learningRate(a.get("learning_rate").getAsDouble())
                    .weightDecay(a.get("weight_decay").getAsDouble())
                    .lrSchedulerType(a.get("lr_scheduler_type").getAsString())
                    .warmupSteps(a.get("warmup_steps").getAsLong())
                    .maxGradNorm(a.get("max_grad_norm").getAsDouble())
                    .adamBeta1(a.get("adam_beta1").getAsDouble())
                    .adamBeta2(a.get("adam_beta2").getAsDouble())
                    .adamEpsilon(a.get("adam_epsilon").getAsDouble())
                    .seed(a.get("seed").getAsLong())
                    .loggingSteps(a.get("logging_steps").getAsLong())
                    .saveSteps(1000)
                    .build();
        }
    }

    /** What peft4j's trainer did at each step: lr and loss from onStepEnd, logged loss, weight errors. */
    static final class Observed {
        final List<Double> lrs = new ArrayList<>();
        final List<Double> stepLosses = new ArrayList<>();
        final List<Double> loggedLosses = new ArrayList<>();
        /** step → parameter → relative error against transformers. */
        final Map<Integer, Map<String, Double>> errors = new LinkedHashMap<>();
        /** step → parameter → max|java - transformers|. */
        final Map<Integer, Map<String, Double>> absErrors = new LinkedHashMap<>();
        int lrSumSteps;
    }

    static double relativeError(float[] got, float[] want) {
        double scale = 0;
        for (float w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        return Fixtures.maxAbsDiff(got, want) / scale;
    }

    static Observed train(Case c, Path out) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(c.json.get("model").getAsString()));
        Map<String, Parameter> params = new LinkedHashMap<>();
        m.namedParameters().forEach((n, p) -> {
            if (p.trainable()) {
                params.put(n, p);
            }
        });
        List<String> want = new ArrayList<>();
        c.json.getAsJsonArray("trainable_parameters").forEach(e -> want.add(e.getAsString()));
        assertThat(params.keySet()).as("trainable parameters as transformers names them").containsExactlyElementsOf(
                want);
        Observed o = new Observed();
        Trainer t = new Trainer(m, c.trainingArguments(out), OrtRuntime.shared()).showProgress(false)
                .addCallback(new TrainerCallback() {
                    @Override
                    public void onStepEnd(long step, long maxSteps, double loss, double lr) {
                        o.lrs.add(lr);
                        o.stepLosses.add(loss);
                        Map<String, float[]> ref = c.weights.get((int) step);
                        if (ref != null) {
                            Map<String, Double> err = new LinkedHashMap<>();
                            Map<String, Double> abs = new LinkedHashMap<>();
                            ref.forEach((n, w) -> {
                                float[] got = params.get(n).data().toFloatArray();
                                err.put(n, relativeError(got, w));
                                abs.put(n, Fixtures.maxAbsDiff(got, w));
                            });
                            o.errors.put((int) step, err);
                            o.absErrors.put((int) step, abs);
                        }
                    }

                    @Override
                    public void onLog(Map<String, Object> entry) {
                        if (entry.containsKey("loss")) {
                            o.loggedLosses.add(((Number) entry.get("loss")).doubleValue());
                        }
                    }
                });
        List<Double> losses = t.train(c.batches);
        assertThat(losses).hasSize(c.steps());
        return o;
    }

    static void assertWeightsMatch(Case c, Observed o) {
        assertThat(o.errors.keySet()).containsExactlyElementsOf(c.weights.keySet());
        double lrSum = 0;
        for (Map.Entry<Integer, Map<String, Double>> st : o.errors.entrySet()) {
            int step = st.getKey();
            while (o.lrSumSteps < step) {
                lrSum += c.step(++o.lrSumSteps).get("learning_rate").getAsDouble();
            }
            for (Map.Entry<String, Double> e : st.getValue().entrySet()) {
                String name = e.getKey();
                if (name.endsWith("self_attn.k_proj.bias")) {
                    assertThat(o.absErrors.get(step).get(name))
                            .as("%s after optimizer step %d: max|java - transformers| (sum of lr %s)", name, step, lrSum)
                            .isLessThanOrEqualTo(KEY_BIAS_STEP_FRACTION * lrSum);
                } else {
                    assertThat(e.getValue())
                            .as("%s after optimizer step %d: max|java - transformers| / max|transformers|", name, step)
                            .isLessThanOrEqualTo(WEIGHT_RTOL);
                }
            }
        }
    }

    /**
     * Gradient accumulation over micro-batches with different token counts, clipping at every step, weight decay
     * (none on biases and norm weights), warmup + cosine, AdamW with bias correction: every weight after every step.
     */
    @Test
    void accumulationClippingDecayAndScheduleMatchTransformersStepByStep(@TempDir Path out) throws Exception {
        Case c = new Case("accum-clip");
        // the case really exercises what it claims
        List<Long> counts = new ArrayList<>();
        c.batches.forEach(b -> counts.add(b.countedTokens()));
        List<Long> recorded = new ArrayList<>();
        c.json.getAsJsonArray("micro_batch_counted_tokens").forEach(e -> recorded.add(e.getAsLong()));
        assertThat(counts).containsExactlyElementsOf(recorded);
        int accum = c.args().get("gradient_accumulation_steps").getAsInt();
        for (int s = 0; s < c.steps(); s++) {
            assertThat(new java.util.HashSet<>(counts.subList(s * accum, (s + 1) * accum))).as("token counts of step %d",
                    s + 1).hasSizeGreaterThan(1);
        }
        double maxNorm = c.args().get("max_grad_norm").getAsDouble();
        for (int s = 1; s <= c.steps(); s++) {
            assertThat(c.step(s).get("grad_norm").getAsDouble()).as("pre-clip norm of step %d", s)
                    .isGreaterThan(10 * maxNorm);
        }
        assertThat(c.json.getAsJsonArray("no_decay_parameters").toString()).contains("q_proj.bias", "norm.weight");

        Observed o = train(c, out);
        assertWeightsMatch(c, o);
        for (int s = 1; s <= c.steps(); s++) {
            JsonObject ref = c.step(s);
            assertThat(o.lrs.get(s - 1)).as("learning rate of step %d", s)
                    .isCloseTo(ref.get("learning_rate").getAsDouble(), within(1e-12));
            // transformers logs (logging_steps 1) the sum of the step's micro-batch losses sum(nll) / num_items
            assertThat(o.loggedLosses.get(s - 1)).as("logged loss of step %d", s)
                    .isCloseTo(ref.get("loss").getAsDouble(), within(1e-5 * ref.get("loss").getAsDouble()));
            assertThat(o.stepLosses.get(s - 1)).as("loss of step %d", s)
                    .isCloseTo(ref.get("loss").getAsDouble(), within(1e-5 * ref.get("loss").getAsDouble()));
        }
    }

    /**
     * The accumulated gradient is the token-weighted mean of the micro-batch gradients, not their sum: with equal
     * token counts, no clipping and an epsilon of the order of the gradients, a gradient three times too large moves
     * the weights differently.
     */
    @Test
    void accumulationAveragesWithEqualTokenCounts(@TempDir Path out) throws Exception {
        Case c = new Case("equal-counts");
        assertThat(c.batches).allSatisfy(b -> assertThat(b.countedTokens()).isEqualTo(12));
        assertThat(c.args().get("max_grad_norm").getAsDouble()).isZero();
        Observed o = train(c, out);
        assertWeightsMatch(c, o);
        for (int s = 1; s <= c.steps(); s++) {
            double want = c.step(s).get("loss").getAsDouble();
            assertThat(o.loggedLosses.get(s - 1)).as("logged loss of step %d", s).isCloseTo(want,
                    within(1e-5 * want));
        }
    }

    /**
     * A micro-batch without a counted token adds {@code sum(nll) = 0} over the step's token count in transformers
     * (its own mean loss would be 0 / 0): a step with one trains exactly as the step without it.
     */
    @Test
    void aMicroBatchWithoutCountedTokensAddsNothing(@TempDir Path out) throws Exception {
        Case c = new Case("accum-clip");
        Batch b = c.batches.get(2);
        long[] ignored = new long[(int) b.labels().numel()];
        java.util.Arrays.fill(ignored, Batch.IGNORE_INDEX);
        Batch empty = new Batch(b.inputIds(), b.attentionMask(), Tensor.of(ignored, b.labels().shape()));
        List<float[]> with = trainOneStep(List.of(c.batches.get(0), empty, c.batches.get(1)), 3, out.resolve("a"));
        List<float[]> without = trainOneStep(List.of(c.batches.get(0), c.batches.get(1)), 2, out.resolve("b"));
        for (int i = 0; i < with.size(); i++) {
            assertThat(with.get(i)).containsExactly(without.get(i));
        }
    }

    private static List<float[]> trainOneStep(List<Batch> batches, int accum, Path out) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("qwen2"));
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(1)
                .gradientAccumulationSteps(accum).build();
        List<Double> losses = new Trainer(m, args, OrtRuntime.shared()).showProgress(false).train(batches);
        assertThat(losses.get(0)).isFinite();
        List<float[]> w = new ArrayList<>();
        m.namedParameters().values().forEach(p -> w.add(p.data().toFloatArray()));
        return w;
    }

    /**
     * The pre-clip gradient norm of every step, from {@link TrainStep} on transformers' own weights before that step,
     * with the micro-batch gradients weighted by their share of the step's counted tokens, equals the
     * {@code grad_norm} transformers logged (and exceeds {@code max_grad_norm}, so clipping did happen).
     */
    @Test
    void preClipGradientNormsMatchTransformers() throws Exception {
        Case c = new Case("accum-clip");
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("qwen2"));
        TrainStep ts = new TrainStep(m, OrtRuntime.shared());
        int accum = c.args().get("gradient_accumulation_steps").getAsInt();
        for (int s = 1; s <= c.steps(); s++) {
            if (s > 1) {
                c.weights.get(s - 1).forEach((n, w) -> ts.trainable().get(n).setData(Tensor.of(w,
                        ts.trainable().get(n).shape())));
            }
            long total = 0;
            for (int k = 0; k < accum; k++) {
                total += c.batches.get((s - 1) * accum + k).countedTokens();
            }
            JsonArray micro = c.step(s).getAsJsonArray("micro_batch_losses");
            Map<String, double[]> acc = new LinkedHashMap<>();
            for (int k = 0; k < accum; k++) {
                Batch b = c.batches.get((s - 1) * accum + k);
                double share = (double) b.countedTokens() / total;
                TrainStep.Output r = ts.run(b);
                // transformers' micro-batch loss is sum(nll) / num_items_in_batch = mean loss * share
                assertThat(r.loss() * share).as("micro-batch %d of step %d", k, s)
                        .isCloseTo(micro.get(k).getAsDouble(), within(1e-5 * micro.get(k).getAsDouble()));
                r.gradients().forEach((n, g) -> {
                    float[] f = g.toFloatArray();
                    double[] a = acc.computeIfAbsent(n, x -> new double[f.length]);
                    for (int i = 0; i < f.length; i++) {
                        a[i] += f[i] * share;
                    }
                });
            }
            double sq = 0;
            for (double[] a : acc.values()) {
                for (double x : a) {
                    sq += x * x;
                }
            }
            double want = c.step(s).get("grad_norm").getAsDouble();
            assertThat(Math.sqrt(sq)).as("pre-clip gradient norm of step %d", s).isCloseTo(want, within(1e-5 * want));
        }
    }
}
