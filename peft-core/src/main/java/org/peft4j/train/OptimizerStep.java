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
 * the learning-rate schedule and the {@link Optimizer} that {@code optim} names (AdamW with decoupled weight decay,
 * none for the parameters outside {@code decayNames}), as transformers' {@code Trainer} runs
 * {@code clip_grad_norm_}, {@code optimizer.step()} and {@code lr_scheduler.step()}.
 *
 * <p>Parameters are updated in place through {@link Tensor#writeFloats}, which marks them modified, so no cached
 * session keeps running on the old values. Read-only (memory-mapped) trainable weights get an owned copy first.
 * Closing releases the optimizer's off-heap states (a paged optimizer's file). Not thread-safe.
 */
public final class OptimizerStep implements AutoCloseable {
    private final Map<String, Parameter> params;
    private final Map<String, Double> decay = new LinkedHashMap<>();
    private final TrainingArguments args;
    private final LrScheduler schedule;
    private final Optimizer optimizer;
    private double lastGradNorm = Double.NaN;

    /**
     * An optimizer for {@code params} (by name) and a run of {@code totalSteps} optimizer steps.
     *
     * @param decayNames the parameters that get {@code weight_decay}
     * @throws IllegalArgumentException if a parameter is not float32
     */
    public OptimizerStep(Map<String, Parameter> params, Set<String> decayNames, TrainingArguments args,
            long totalSteps) {
        this(params, decayNames, Set.of(), args, totalSteps);
    }

    /**
     * An optimizer for {@code params} (by name) and a run of {@code totalSteps} optimizer steps.
     *
     * @param decayNames the parameters that get {@code weight_decay}
     * @param fp32StateNames parameters whose states an 8-bit optimizer keeps in 32 bits whatever their size
     *     (transformers registers this override for every {@code nn.Embedding} weight)
     * @throws IllegalArgumentException if a parameter is not float32
     */
    public OptimizerStep(Map<String, Parameter> params, Set<String> decayNames, Set<String> fp32StateNames,
            TrainingArguments args, long totalSteps) {
        this.params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        this.args = args;
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            decay.put(e.getKey(), decayNames.contains(e.getKey()) ? args.weightDecay() : 0.0);
            makeWritable(e.getValue());
        }
        this.schedule = new LrScheduler(args.lrSchedulerType(),
                LrScheduler.warmupSteps(args.warmupSteps(), args.warmupRatio(), totalSteps), totalSteps);
        this.optimizer = create(args, fp32StateNames);
    }

    /**
     * The optimizer transformers' {@code get_optimizer_cls_and_kwargs} builds for {@code args.optim()}:
     * {@code betas=(adam_beta1, adam_beta2)}, {@code eps=adam_epsilon}; for bitsandbytes' optimizers
     * {@code optim_bits} 8 when the name contains "8bit" and {@code is_paged} when it contains "paged". A paged
     * optimizer's state file goes to {@code java.io.tmpdir}.
     *
     * @param fp32StateNames parameters an 8-bit optimizer keeps in 32 bits (embedding weights)
     */
    public static Optimizer create(TrainingArguments args, Set<String> fp32StateNames) {
        OptimizerNames name = args.optim().requireSupported();
        if ("torch_adamw".equals(name.stateFormat())) {
            return new AdamW(name, args.adamBeta1(), args.adamBeta2(), args.adamEpsilon());
        }
        return new BnbAdamW(name, args.adamBeta1(), args.adamBeta2(), args.adamEpsilon(), fp32StateNames, null);
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
        optimizer.beginStep();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Tensor data = e.getValue().data();
            float[] values = data.toFloatArray();
            optimizer.update(e.getKey(), values, gradients.get(e.getKey()), lr, decay.get(e.getKey()));
            data.writeFloats(values);
        }
        return lr;
    }

    /** The optimizer (its state goes into checkpoints). */
    public Optimizer optimizer() {
        return optimizer;
    }

    /** Releases the optimizer's off-heap states. */
    @Override
    public void close() {
        optimizer.close();
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
