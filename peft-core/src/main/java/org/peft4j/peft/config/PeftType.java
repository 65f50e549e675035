package org.peft4j.peft.config;

/** PEFT methods, serialized as PEFT's upper-case strings ({@code "LORA"}). */
public enum PeftType {
    LORA, ADALORA, IA3, PREFIX_TUNING, PROMPT_TUNING, P_TUNING, MULTITASK_PROMPT_TUNING, ADAPTION_PROMPT;

    /** Whether the method learns virtual tokens (prefix, prompt and P-tuning) rather than adapter layers. */
    public boolean isPromptLearning() {
        return this == PREFIX_TUNING || this == PROMPT_TUNING || this == P_TUNING || this == MULTITASK_PROMPT_TUNING;
    }

    /**
     * The type named by PEFT's string.
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public static PeftType of(String name) {
        for (PeftType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("Unknown PEFT type '" + name + "'. Known types: "
                + java.util.Arrays.toString(values()));
    }
}
