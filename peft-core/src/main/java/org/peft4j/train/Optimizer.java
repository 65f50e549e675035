package org.peft4j.train;

import java.util.Map;
import org.peft4j.tensor.Tensor;

/**
 * The update rule of one {@code optim} choice ({@link OptimizerNames}): the moments it keeps per parameter and how
 * it moves a parameter given its gradient. {@link OptimizerStep} runs it after clipping and the learning-rate
 * schedule; the {@link Trainer} picks the implementation from {@link TrainingArguments#optim()}.
 *
 * <p>Every parameter of one optimizer step shares the step count ({@link #beginStep()} once, then
 * {@link #update} per parameter). An optimizer may hold memory outside the Java heap (a paged optimizer's mapped
 * file): {@link #close()} releases it. Not thread-safe.
 */
public interface Optimizer extends AutoCloseable {
    /** The {@code optim} name this optimizer implements. */
    OptimizerNames name();

    /** Number of updates taken. */
    long step();

    /** Starts a new update (all parameters of one optimizer step share the step count). */
    void beginStep();

    /**
     * Updates {@code param} in place from {@code grad} with learning rate {@code lr}.
     *
     * @param weightDecay decoupled weight decay of this parameter (0 for biases and norm weights)
     */
    void update(String name, float[] param, float[] grad, double lr, double weightDecay);

    /**
     * The optimizer state by checkpoint key (for {@code optimizer.safetensors}): tensors that {@link #loadState}
     * restores exactly. The tensors are copies.
     */
    Map<String, Tensor> stateTensors();

    /**
     * Restores the step count and the state saved by {@link #stateTensors()}.
     *
     * @throws IllegalArgumentException if a tensor is missing or has the wrong type or size
     */
    void loadState(long step, Map<String, Tensor> state);

    /**
     * The bytes of optimizer state held for parameter {@code name} (moments, 8-bit codes and their block absmax;
     * shared quantization maps not counted), or 0 before it has state.
     */
    long stateBytes(String name);

    /**
     * What a checkpoint's state means: optimizers with equal formats read each other's checkpoints (aliases, and the
     * paged and unpaged variants of one optimizer, whose states are the same numbers).
     */
    default String stateFormat() {
        return name().stateFormat();
    }

    /** Releases memory held outside the heap (nothing for heap-only optimizers). Idempotent. */
    @Override
    void close();
}
