package org.peft4j.prefix;

/** P-tuning's reparameterization of the virtual tokens (PEFT's {@code PromptEncoderReparameterizationType}). */
public enum PromptEncoderReparameterizationType {
    /** Embedding, then Linear-ReLU-Linear-ReLU-Linear. */
    MLP,
    /** Embedding, then a bidirectional LSTM, then Linear-ReLU-Linear. */
    LSTM;

    static PromptEncoderReparameterizationType of(String s) {
        for (PromptEncoderReparameterizationType v : values()) {
            if (v.name().equals(s)) {
                return v;
            }
        }
        throw new IllegalArgumentException("'" + s + "' is not a valid PromptEncoderReparameterizationType");
    }
}
