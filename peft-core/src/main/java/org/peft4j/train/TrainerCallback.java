package org.peft4j.train;

import java.nio.file.Path;
import java.util.Map;
import org.peft4j.graph.Parameter;

/** Hooks into the training loop (all methods optional), as transformers' {@code TrainerCallback}. */
public interface TrainerCallback {
    /**
     * Right after the optimizer updated the parameters of step {@code step} (1-based), with the gradients the update
     * used (accumulated, reduced across workers and clipped) still at hand, as transformers' callbacks and AdaLoRA's
     * {@code update_and_allocate} see {@code p.grad} after {@code optimizer.step()}. A callback may read both and
     * change parameters (through {@code Tensor#write}); it must not keep the gradient arrays.
     *
     * @param parameters the trainable parameters by name
     * @param gradients their gradients by name
     */
    default void onOptimizerStep(long step, Map<String, Parameter> parameters, Map<String, float[]> gradients) {
    }

    /** After every optimizer step. */
    default void onStepEnd(long step, long maxSteps, double loss, double learningRate) {
    }

    /** When a log entry (training or evaluation) is written; the entry is what goes into the JSONL log. */
    default void onLog(Map<String, Object> entry) {
    }

    /** After an evaluation. */
    default void onEvaluate(long step, double evalLoss) {
    }

    /** After a checkpoint was written. */
    default void onSave(long step, Path checkpoint) {
    }
}
