package org.peft4j.data;

import java.util.ArrayList;
import java.util.List;

/** Decoded maximal runs of counted tokens. */
final class HfTokenizerTestRuns {
    private HfTokenizerTestRuns() {}

    static List<String> runs(Tokenizer tok, TokenizedExample ex) {
        List<String> runs = new ArrayList<>();
        int start = -1;
        for (int i = 0; i <= ex.length(); i++) {
            boolean counted = i < ex.length() && ex.labels()[i] != SftTokenizer.IGNORE_INDEX;
            if (counted && start < 0) {
                start = i;
            } else if (!counted && start >= 0) {
                runs.add(tok.decode(java.util.Arrays.copyOfRange(ex.inputIds(), start, i)));
                start = -1;
            }
        }
        return runs;
    }
}
