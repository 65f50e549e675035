package org.peft4j.data;

/**
 * A tokenised training example.
 *
 * @param inputIds token ids
 * @param labels the same ids where the loss counts the token, {@link SftTokenizer#IGNORE_INDEX} elsewhere
 */
public record TokenizedExample(long[] inputIds, long[] labels) {
    /** Checks that both arrays have the same length. */
    public TokenizedExample {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException("inputIds and labels differ in length");
        }
    }

    /** Number of tokens. */
    public int length() {
        return inputIds.length;
    }

    /** Number of tokens the loss counts. */
    public int countedTokens() {
        int n = 0;
        for (long l : labels) {
            if (l != SftTokenizer.IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }
}
