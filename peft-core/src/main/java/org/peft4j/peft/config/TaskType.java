package org.peft4j.peft.config;

import java.util.Arrays;
import java.util.stream.Collectors;

/** PEFT task types, serialized as PEFT's strings ({@code "CAUSAL_LM"}). */
public enum TaskType {
    /** Sequence classification. */
    SEQ_CLS,
    /** Sequence-to-sequence language modelling. */
    SEQ_2_SEQ_LM,
    /** Causal language modelling (the task of every peft4j model). */
    CAUSAL_LM,
    /** Token classification. */
    TOKEN_CLS,
    /** Extractive question answering. */
    QUESTION_ANS,
    /** Feature extraction. */
    FEATURE_EXTRACTION;

    /**
     * The task type named by PEFT's string.
     *
     * @throws IllegalArgumentException with PEFT's message for an unknown name
     */
    public static TaskType of(String name) {
        for (TaskType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("Invalid task type: '" + name
                + "'. Must be one of the following task types: "
                + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")) + ".");
    }
}
