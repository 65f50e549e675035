package org.peft4j.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * AdamW with decoupled weight decay, computed as {@code torch.optim.AdamW} does (bias corrections folded into the
 * step size and the denominator): {@code optim="adamw_torch"} and {@code "adamw_torch_fused"} (the fused kernel
 * computes the same update). Two float32 moments per trainable element (8 bytes), on the heap. Runs in Java over
 * float arrays: trainable sets in PEFT are small; the heavy math (forward and backward) runs in ONNX Runtime.
 */
public final class AdamW implements Optimizer {
    private final OptimizerNames name;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final Map<String, float[]> m = new LinkedHashMap<>();
    private final Map<String, float[]> v = new LinkedHashMap<>();
    private long step;

    /** torch's AdamW ({@code adamw_torch}). */
    public AdamW(double beta1, double beta2, double eps) {
        this(OptimizerNames.ADAMW_TORCH, beta1, beta2, eps);
    }

    /**
     * torch's AdamW under the name {@code name} ({@code adamw_torch} or {@code adamw_torch_fused}).
     *
     * @throws IllegalArgumentException for another name
     */
    public AdamW(OptimizerNames name, double beta1, double beta2, double eps) {
        if (!"torch_adamw".equals(name.stateFormat())) {
            throw new IllegalArgumentException(name + " is not torch's AdamW");
        }
        this.name = name;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    @Override
    public OptimizerNames name() {
        return name;
    }

    /** Number of updates taken. */
    @Override
    public long step() {
        return step;
    }

    /** Starts a new update (all parameters of one optimizer step share the step count). */
    @Override
    public void beginStep() {
        step++;
    }

    /**
     * Updates {@code param} in place.
     *
     * @param weightDecay 0 for biases and norm weights
     */
    @Override
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

    /**
     * AdamW's second moments ({@code exp_avg_sq}) by parameter name.
     *
     * @return the live arrays (not copies)
     */
    public Map<String, float[]> secondMoments() {
        return v;
    }

    /** {@code exp_avg.<name>} and {@code exp_avg_sq.<name>} (torch's state names), float32 copies. */
    @Override
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : m.entrySet()) {
            out.put("exp_avg." + e.getKey(), Tensor.of(e.getValue(), e.getValue().length));
            float[] sq = v.get(e.getKey());
            out.put("exp_avg_sq." + e.getKey(), Tensor.of(sq, sq.length));
        }
        return out;
    }

    @Override
    public void loadState(long step, Map<String, Tensor> state) {
        Map<String, float[]> first = new LinkedHashMap<>();
        Map<String, float[]> second = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            if (e.getValue().dtype() != DType.F32) {
                throw new IllegalArgumentException("optimizer state '" + e.getKey() + "' is " + e.getValue()
                        + ", expected F32");
            }
            if (e.getKey().startsWith("exp_avg_sq.")) {
                second.put(e.getKey().substring("exp_avg_sq.".length()), e.getValue().toFloatArray());
            } else if (e.getKey().startsWith("exp_avg.")) {
                first.put(e.getKey().substring("exp_avg.".length()), e.getValue().toFloatArray());
            }
        }
        if (!first.keySet().equals(second.keySet())) {
            throw new IllegalArgumentException("optimizer state has exp_avg for " + first.keySet()
                    + " but exp_avg_sq for " + second.keySet());
        }
        restore(step, first, second);
    }

    /** 8 bytes per element of a parameter with state (two float32 moments). */
    @Override
    public long stateBytes(String name) {
        float[] mm = m.get(name);
        return mm == null ? 0 : 8L * mm.length;
    }

    /** Nothing to release: the moments live on the heap. */
    @Override
    public void close() {
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
