package org.peft4j.peft.config;

import java.util.Arrays;
import java.util.stream.Collectors;

/** PEFT task types, serialized as PEFT's strings ({@code "CAUSAL_LM"}). */
public enum TaskType {
    SEQ_CLS, SEQ_2_SEQ_LM, CAUSAL_LM, TOKEN_CLS, QUESTION_ANS, FEATURE_EXTRACTION;

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
