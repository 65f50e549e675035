package org.peft4j.train;

import java.util.Map;

/**
 * Combines one optimizer step across data-parallel workers: the identity on one machine ({@link #LOCAL}); a
 * data-parallel run (one trainer per worker, each on its own share of the micro-batches) all-reduces here.
 *
 * <p>The contract is a SUM, because the trainer already weighs every micro-batch by its share of the step's counted
 * tokens over all workers, as transformers does with {@code num_items_in_batch} gathered across processes: the
 * trainer first sums its local counted tokens across workers ({@link #sum(long)}), weighs each local micro-batch by
 * {@code tokens_k / tokens_all_workers}, then has the weighted gradients ({@link #reduce}) and losses
 * ({@link #sum(double)}) summed. Every worker then holds the gradient and loss of the whole global batch and applies
 * the same update: W workers with accumulation k train exactly as one worker with accumulation W·k over the same
 * micro-batches. Called from the training thread, in the same order on every worker.
 */
public interface GradientReducer {
    /** One machine: every sum is the local value. */
    GradientReducer LOCAL = new GradientReducer() {
        @Override
        public void reduce(Map<String, float[]> gradients) {
        }
    };

    /**
     * Replaces, in place, this worker's weighted gradients (by parameter name, every trainable parameter present)
     * with their sum over all workers; every worker must end with the same values.
     */
    void reduce(Map<String, float[]> gradients);

    /** The sum of {@code local} over all workers (the step's counted tokens). */
    default long sum(long local) {
        return local;
    }

    /** The sum of {@code local} over all workers (the step's weighted loss). */
    default double sum(double local) {
        return local;
    }
}
