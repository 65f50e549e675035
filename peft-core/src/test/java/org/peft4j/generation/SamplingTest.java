package org.peft4j.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The sampler's distribution equals transformers' warpers (worked by hand here) and is seed-reproducible. */
class SamplingTest {
    static final float[] LOGITS = {2.0f, 1.0f, 0.0f, -1.0f, 3.0f};

    @Test
    void temperatureTopKTopPFollowTransformers() {
        // temperature 2: softmax(l/2)
        double[] p = LogitsSampler.probabilities(LOGITS, 2.0, 0, 1.0);
        double z = Math.exp(1) + Math.exp(0.5) + 1 + Math.exp(-0.5) + Math.exp(1.5);
        assertThat(p[4]).isCloseTo(Math.exp(1.5) / z, within(1e-12));
        // top-k 2 keeps logits 3 and 2
        double[] k = LogitsSampler.probabilities(LOGITS, 1.0, 2, 1.0);
        assertThat(k[0]).isCloseTo(Math.exp(2) / (Math.exp(2) + Math.exp(3)), within(1e-12));
        assertThat(k[1]).isZero();
        // top-p 0.8: sorted probabilities of softmax(l) are .6364,.2341,.0861,.0317,.0117 (descending);
        // ascending cumulative sums <= 0.2 are removed: tokens with logits -1, 0 (cum .0117, .0433) and 1 (.1295)
        double[] tp = LogitsSampler.probabilities(LOGITS, 1.0, 0, 0.8);
        assertThat(tp[1]).isZero();
        assertThat(tp[2]).isZero();
        assertThat(tp[3]).isZero();
        assertThat(tp[0] + tp[4]).isCloseTo(1.0, within(1e-12));
        // top-p keeps at least one token
        double[] one = LogitsSampler.probabilities(LOGITS, 1.0, 0, 0.0);
        assertThat(one[4]).isEqualTo(1.0);
    }

    @Test
    void samplingFrequenciesMatchTheDistributionAndRepeatWithTheSeed() {
        GenerationConfig cfg = GenerationConfig.builder().doSample(true).temperature(1.5).topK(4).seed(7).build();
        double[] want = LogitsSampler.probabilities(LOGITS, 1.5, 4, 1.0);
        LogitsSampler s = new LogitsSampler(cfg);
        int n = 200_000;
        int[] counts = new int[LOGITS.length];
        int[] firstTen = new int[10];
        for (int i = 0; i < n; i++) {
            int t = s.next(LOGITS);
            counts[t]++;
            if (i < 10) {
                firstTen[i] = t;
            }
        }
        for (int i = 0; i < LOGITS.length; i++) {
            // 5 standard deviations of a binomial proportion
            double sd = Math.sqrt(want[i] * (1 - want[i]) / n);
            assertThat((double) counts[i] / n).isCloseTo(want[i], within(5 * sd + 1e-9));
        }
        assertThat(counts[3]).isZero();
        LogitsSampler again = new LogitsSampler(cfg);
        for (int i = 0; i < 10; i++) {
            assertThat(again.next(LOGITS)).isEqualTo(firstTen[i]);
        }
    }

    @Test
    void greedyTakesTheFirstMaximum() {
        assertThat(LogitsSampler.argmax(new float[] {1, 5, 5, 2})).isEqualTo(1);
    }
}
