package org.peft4j.train;

import java.nio.file.Path;
import java.util.Map;

/** Hooks into the training loop (all methods optional), as transformers' {@code TrainerCallback}. */
public interface TrainerCallback {
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
