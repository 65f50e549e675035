package org.peft4j.generation;

import java.util.Arrays;
import java.util.Random;

/**
 * Picks the next token from one row of logits: greedy (first arg-max, as {@code torch.argmax}) or sampling after
 * transformers' warpers in their order: temperature, top-k, top-p.
 */
final class LogitsSampler {
    private final GenerationConfig cfg;
    private final Random random;

    LogitsSampler(GenerationConfig cfg) {
        this.cfg = cfg;
        this.random = new Random(cfg.seed());
    }

    int next(float[] logits) {
        if (!cfg.doSample()) {
            return argmax(logits);
        }
        double[] p = probabilities(logits, cfg.temperature(), cfg.topK(), cfg.topP());
        double u = random.nextDouble();
        double acc = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                acc += p[i];
                last = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return last;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The sampling distribution after temperature, top-k and top-p filtering. */
    static double[] probabilities(float[] logits, double temperature, int topK, double topP) {
        int n = logits.length;
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = logits[i] / temperature;
        }
        if (topK > 0 && topK < n) {
            double[] sorted = s.clone();
            Arrays.sort(sorted);
            double kth = sorted[n - topK];
            for (int i = 0; i < n; i++) {
                if (s[i] < kth) {
                    s[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        if (topP < 1.0) {
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            final double[] sv = s;
            Arrays.sort(order, (a, b) -> Double.compare(sv[a], sv[b]));          // ascending, stable
            double[] sortedProbs = softmax(sortedValues(s, order));
            double cum = 0;
            boolean[] remove = new boolean[n];
            for (int j = 0; j < n; j++) {
                cum += sortedProbs[j];
                remove[j] = cum <= 1 - topP;
            }
            remove[n - 1] = false;                                                  // keep at least one token
            for (int j = 0; j < n; j++) {
                if (remove[j]) {
                    s[order[j]] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        return softmax(s);
    }

    private static double[] sortedValues(double[] s, Integer[] order) {
        double[] out = new double[s.length];
        for (int j = 0; j < s.length; j++) {
            out[j] = s[order[j]];
        }
        return out;
    }

    static double[] softmax(double[] s) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : s) {
            max = Math.max(max, v);
        }
        double[] e = new double[s.length];
        double sum = 0;
        for (int i = 0; i < s.length; i++) {
            e[i] = s[i] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[i] - max);
            sum += e[i];
        }
        for (int i = 0; i < s.length; i++) {
            e[i] /= sum;
        }
        return e;
    }
}
