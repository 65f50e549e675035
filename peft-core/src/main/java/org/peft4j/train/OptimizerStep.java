package org.peft4j.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Parameter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * One optimizer step over a fixed set of trainable parameters, separate from the training loop (which accumulates
 * micro-batches and combines workers, see {@link GradientReducer}): global-norm clipping ({@code max_grad_norm}),
 * the learning-rate schedule and AdamW with decoupled weight decay (none for the parameters outside
 * {@code decayNames}), as transformers' {@code Trainer} runs {@code clip_grad_norm_}, {@code optimizer.step()} and
 * {@code lr_scheduler.step()}.
 *
 * <p>Parameters are updated in place through {@link Tensor#writeFloats}, which marks them modified, so no cached
 * session keeps running on the old values. Read-only (memory-mapped) trainable weights get an owned copy first. Not
 * thread-safe.
 */
public final class OptimizerStep {
    private final Map<String, Parameter> params;
    private final Map<String, Double> decay = new LinkedHashMap<>();
    private final TrainingArguments args;
    private final LrScheduler schedule;
    private final AdamW adam;
    private double lastGradNorm = Double.NaN;

    /**
     * An optimizer for {@code params} (by name) and a run of {@code totalSteps} optimizer steps.
     *
     * @param decayNames the parameters that get {@code weight_decay}
     * @throws IllegalArgumentException if a parameter is not float32
     */
    public OptimizerStep(Map<String, Parameter> params, Set<String> decayNames, TrainingArguments args,
            long totalSteps) {
        this.params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        this.args = args;
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            decay.put(e.getKey(), decayNames.contains(e.getKey()) ? args.weightDecay() : 0.0);
            makeWritable(e.getValue());
        }
        this.schedule = new LrScheduler(args.lrSchedulerType(),
                LrScheduler.warmupSteps(args.warmupSteps(), args.warmupRatio(), totalSteps), totalSteps);
        this.adam = new AdamW(args.adamBeta1(), args.adamBeta2(), args.adamEpsilon());
    }

    /** The parameters updated, by name. */
    public Map<String, Parameter> parameters() {
        return params;
    }

    /** The learning rate of optimizer step {@code step} (0-based). */
    public double learningRate(long step) {
        return args.learningRate() * schedule.factor(step);
    }

    /** The global gradient norm of the last step, before clipping (NaN before the first step). */
    public double lastGradNorm() {
        return lastGradNorm;
    }

    /**
     * Applies optimizer step {@code step} (0-based): clips {@code gradients} to {@code max_grad_norm} (in place, so
     * callers see what the update used) and updates every parameter.
     *
     * @param gradients the accumulated gradient of every parameter, by name
     * @return the learning rate used
     * @throws IllegalArgumentException if a parameter has no gradient
     */
    public double apply(long step, Map<String, float[]> gradients) {
        for (String name : params.keySet()) {
            if (!gradients.containsKey(name)) {
                throw new IllegalArgumentException("no gradient for trainable parameter '" + name + "'");
            }
        }
        lastGradNorm = args.maxGradNorm() > 0 ? AdamW.clipGradNorm(gradients.values(), args.maxGradNorm())
                : AdamW.clipGradNorm(gradients.values(), Double.POSITIVE_INFINITY);
        double lr = learningRate(step);
        adam.beginStep();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Tensor data = e.getValue().data();
            float[] values = data.toFloatArray();
            adam.update(e.getKey(), values, gradients.get(e.getKey()), lr, decay.get(e.getKey()));
            data.writeFloats(values);
        }
        return lr;
    }

    /** The AdamW state, for checkpoints. */
    AdamW adam() {
        return adam;
    }

    /** Trainable weights are updated in place: give read-only (memory-mapped) ones an owned copy first. */
    private static void makeWritable(Parameter p) {
        if (p.dtype() != DType.F32) {
            throw new IllegalArgumentException("training needs float32 trainable parameters, got " + p);
        }
        if (!p.data().isWritableDirect()) {
            p.setData(p.data().copy());
        }
    }
}
