package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Exchanger;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * The data-parallel contract of {@link GradientReducer}: two workers with accumulation 2, each on its own half of
 * every global batch and summing through the reducer, train exactly as one worker with accumulation 4 over the same
 * micro-batches (token-weighted over the whole global batch, as transformers with {@code num_items_in_batch}
 * gathered across processes). The micro-batches count different numbers of tokens, so a reducer that averaged, or a
 * trainer that weighed by local tokens only, would train differently.
 */
class DataParallelContractTest {
    static final String[] TRAINED = {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.up_proj.weight"};

    static PreTrainedModel model() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.requiresGrad(false);
        for (String n : TRAINED) {
            m.getParameter(n).setTrainable(true);
        }
        return m;
    }

    /** Micro-batch {@code k}: 2 rows of 8 tokens, the first {@code k + 1} labels of each row ignored. */
    static Batch micro(int k) {
        long[] ids = new long[16];
        long[] labels = new long[16];
        long[] mask = new long[16];
        for (int i = 0; i < 16; i++) {
            ids[i] = (7 + 31L * k + 13L * i) % 96;
            mask[i] = 1;
            labels[i] = i % 8 <= k ? Batch.IGNORE_INDEX : ids[i];
        }
        return new Batch(Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8), Tensor.of(labels, 2, 8));
    }

    /** Sums across exactly two workers by swapping values with the other worker's thread. */
    static final class TwoWorkers implements GradientReducer {
        private final Exchanger<Object> exchanger;

        TwoWorkers(Exchanger<Object> exchanger) {
            this.exchanger = exchanger;
        }

        private Object swap(Object mine) {
            try {
                return exchanger.exchange(mine, 60, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void reduce(Map<String, float[]> gradients) {
            Map<String, float[]> mine = new LinkedHashMap<>();
            gradients.forEach((k, v) -> mine.put(k, v.clone()));
            @SuppressWarnings("unchecked")
            Map<String, float[]> other = (Map<String, float[]>) swap(mine);
            gradients.forEach((k, v) -> {
                float[] o = other.get(k);
                for (int i = 0; i < v.length; i++) {
                    v[i] += o[i];
                }
            });
        }

        @Override
        public long sum(long local) {
            return local + (Long) swap(local);
        }

        @Override
        public double sum(double local) {
            return local + (Double) swap(local);
        }
    }

    static TrainingArguments args(Path out, int accum) {
        return TrainingArguments.builder(out).learningRate(5e-3).maxSteps(3).gradientAccumulationSteps(accum)
                .maxGradNorm(0.5).weightDecay(0.01).warmupSteps(1).build();
    }

    @Test
    void twoWorkersSummingThroughTheReducerTrainAsOneWorkerOnTheWholeBatch(@TempDir Path out) throws Exception {
        PreTrainedModel single = model();
        List<Double> singleLosses = new Trainer(single, args(out.resolve("single"), 4), OrtRuntime.shared())
                .showProgress(false).train(List.of(micro(0), micro(1), micro(2), micro(3)));

        PreTrainedModel a = model();
        PreTrainedModel b = model();
        Exchanger<Object> exchanger = new Exchanger<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Callable<List<Double>> workerA = () -> new Trainer(a, args(out.resolve("a"), 2), OrtRuntime.shared())
                    .showProgress(false).gradientReducer(new TwoWorkers(exchanger)).train(List.of(micro(0), micro(1)));
            Callable<List<Double>> workerB = () -> new Trainer(b, args(out.resolve("b"), 2), OrtRuntime.shared())
                    .showProgress(false).gradientReducer(new TwoWorkers(exchanger)).train(List.of(micro(2), micro(3)));
            Future<List<Double>> fa = pool.submit(workerA);
            Future<List<Double>> fb = pool.submit(workerB);
            List<Double> lossesA = fa.get(5, TimeUnit.MINUTES);
            List<Double> lossesB = fb.get(5, TimeUnit.MINUTES);
            assertThat(lossesA).isEqualTo(lossesB);
            for (int s = 0; s < 3; s++) {
                assertThat(lossesA.get(s)).isCloseTo(singleLosses.get(s), org.assertj.core.api.Assertions.within(
                        1e-6 * Math.abs(singleLosses.get(s))));
            }
        } finally {
            pool.shutdownNow();
        }
        for (String n : TRAINED) {
            float[] want = single.getParameter(n).data().toFloatArray();
            float[] gotA = a.getParameter(n).data().toFloatArray();
            assertThat(gotA).as("both workers hold the same weights").containsExactly(
                    b.getParameter(n).data().toFloatArray());
            double maxDiff = Fixtures.maxAbsDiff(gotA, want);
            double scale = 0;
            for (float x : want) {
                scale = Math.max(scale, Math.abs(x));
            }
            assertThat(maxDiff / scale).as(n).isLessThan(1e-5);
        }
    }
}
