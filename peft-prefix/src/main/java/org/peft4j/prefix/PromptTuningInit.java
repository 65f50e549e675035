package org.peft4j.prefix;

/** How prompt tuning initialises its virtual tokens (PEFT's {@code PromptTuningInit}). */
public enum PromptTuningInit {
    /** The token embeddings of {@code prompt_tuning_init_text}, repeated or truncated to the virtual tokens. */
    TEXT,
    /** The embeddings of tokens drawn uniformly from the vocabulary. */
    SAMPLE_VOCAB,
    /** {@code nn.Embedding}'s default: standard normal. */
    RANDOM;

    static PromptTuningInit of(String s) {
        for (PromptTuningInit v : values()) {
            if (v.name().equals(s)) {
                return v;
            }
        }
        throw new IllegalArgumentException("'" + s + "' is not a valid PromptTuningInit");
    }
}
