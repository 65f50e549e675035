package org.peft4j.models;

import org.peft4j.Peft4jException;
import org.peft4j.tensor.Tensor;

/**
 * Checks token ids against a model's embedding before they reach ONNX Runtime, whose out-of-range {@code Gather}
 * error names neither the id nor the vocabulary (torch raises {@code IndexError: index out of range in self}).
 */
public final class TokenIds {
    private TokenIds() {
    }

    /**
     * Refuses a token id outside {@code [0, vocabSize)}.
     *
     * @param inputIds int64 token ids of any shape
     * @param vocabSize the rows of the model's input embedding ({@code vocab_size})
     * @throws Peft4jException naming the id and the embedding size
     */
    public static void checkInEmbedding(Tensor inputIds, long vocabSize) {
        check(inputIds.toLongArray(), vocabSize);
    }

    /**
     * Refuses a token id outside {@code [0, vocabSize)}.
     *
     * @param inputIds token ids, one row per sequence
     * @param vocabSize the rows of the model's input embedding ({@code vocab_size})
     * @throws Peft4jException naming the id and the embedding size
     */
    public static void checkInEmbedding(long[][] inputIds, long vocabSize) {
        for (long[] row : inputIds) {
            check(row, vocabSize);
        }
    }

    private static void check(long[] ids, long vocabSize) {
        for (long id : ids) {
            if (id < 0 || id >= vocabSize) {
                throw new Peft4jException("token id " + id + " is outside the model's embedding (vocab_size "
                        + vocabSize + ", ids 0.." + (vocabSize - 1) + "): were the ids made by a tokenizer with a "
                        + "larger vocabulary than this model's? (torch: IndexError: index out of range in self)");
            }
        }
    }
}
