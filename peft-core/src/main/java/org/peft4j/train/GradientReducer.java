package org.peft4j.train;

import java.util.Map;

/**
 * Combines the gradients of one optimizer step across workers before clipping and the update: the identity on one
 * machine ({@link #LOCAL}); a data-parallel run all-reduces (averages) them across its workers here, as PyTorch's
 * DDP does during backward. Called once per optimizer step from the training thread.
 */
@FunctionalInterface
public interface GradientReducer {
    /** One machine: gradients stay as they are. */
    GradientReducer LOCAL = gradients -> {
    };

    /**
     * Replaces, in place, each worker's accumulated gradients (by parameter name) with their reduction over all
     * workers; every worker must end with the same values.
     */
    void reduce(Map<String, float[]> gradients);
}
