package org.peft4j.data;

/**
 * Token ids of a text with, for each token, the range of UTF-16 chars of the text it came from
 * ({@code [charStart[i], charEnd[i])}).
 *
 * @param ids token ids
 * @param charStart first char of each token
 * @param charEnd one past the last char of each token
 */
public record TokenizedText(long[] ids, int[] charStart, int[] charEnd) {
    /** Checks that the three arrays have the same length. */
    public TokenizedText {
        if (ids.length != charStart.length || ids.length != charEnd.length) {
            throw new IllegalArgumentException("ids, charStart and charEnd differ in length");
        }
    }
}
