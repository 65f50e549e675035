package org.peft4j.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay, computed as {@code torch.optim.AdamW} does (bias corrections folded into the
 * step size and the denominator). Runs in Java over float arrays: trainable sets in PEFT are small; the heavy math
 * (forward and backward) runs in ONNX Runtime.
 */
public final class AdamW {
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final Map<String, float[]> m = new LinkedHashMap<>();
    private final Map<String, float[]> v = new LinkedHashMap<>();
    private long step;

    public AdamW(double beta1, double beta2, double eps) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    /** Number of updates taken. */
    public long step() {
        return step;
    }

    /** Starts a new update (all parameters of one optimizer step share the step count). */
    public void beginStep() {
        step++;
    }

    /**
     * Updates {@code param} in place.
     *
     * @param weightDecay 0 for biases and norm weights
     */
    public void update(String name, float[] param, float[] grad, double lr, double weightDecay) {
        float[] mm = m.computeIfAbsent(name, k -> new float[param.length]);
        float[] vv = v.computeIfAbsent(name, k -> new float[param.length]);
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / bc1;
        double bc2Sqrt = Math.sqrt(bc2);
        float decay = (float) (1 - lr * weightDecay);
        for (int i = 0; i < param.length; i++) {
            float p = param[i] * decay;
            mm[i] = (float) (beta1 * mm[i] + (1 - beta1) * grad[i]);
            vv[i] = (float) (beta2 * vv[i] + (1 - beta2) * grad[i] * grad[i]);
            double denom = Math.sqrt(vv[i]) / bc2Sqrt + eps;
            param[i] = (float) (p - stepSize * mm[i] / denom);
        }
    }

    /** Restores the state saved in a checkpoint. */
    void restore(long step, Map<String, float[]> firstMoments, Map<String, float[]> secondMoments) {
        this.step = step;
        m.clear();
        m.putAll(firstMoments);
        v.clear();
        v.putAll(secondMoments);
    }

    /** The first and second moments by parameter name (for checkpoints). */
    public Map<String, float[]> firstMoments() {
        return m;
    }

    public Map<String, float[]> secondMoments() {
        return v;
    }

    /**
     * Scales gradients in place so their global L2 norm is at most {@code maxNorm}, as
     * {@code torch.nn.utils.clip_grad_norm_} (coefficient {@code maxNorm / (norm + 1e-6)}, capped at 1).
     *
     * @return the norm before clipping
     */
    public static double clipGradNorm(Iterable<float[]> grads, double maxNorm) {
        double sq = 0;
        for (float[] g : grads) {
            for (float x : g) {
                sq += (double) x * x;
            }
        }
        double norm = Math.sqrt(sq);
        double coef = Math.min(1.0, maxNorm / (norm + 1e-6));
        if (coef < 1.0) {
            for (float[] g : grads) {
                for (int i = 0; i < g.length; i++) {
                    g[i] = (float) (g[i] * coef);
                }
            }
        }
        return norm;
    }
}
