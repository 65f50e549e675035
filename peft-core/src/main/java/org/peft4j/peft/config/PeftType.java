package org.peft4j.peft.config;

/** PEFT methods, serialized as PEFT's upper-case strings ({@code "LORA"}). */
public enum PeftType {
    /** LoRA (peft-lora; QLoRA is LoRA on a 4-bit base, peft-qlora). */
    LORA,
    /** AdaLoRA (not implemented by peft4j). */
    ADALORA,
    /** (IA)^3 (not implemented by peft4j). */
    IA3,
    /** Prefix tuning (peft-prefix). */
    PREFIX_TUNING,
    /** Prompt tuning (peft-prefix). */
    PROMPT_TUNING,
    /** P-tuning (peft-prefix). */
    P_TUNING,
    /** Multitask prompt tuning (not implemented by peft4j). */
    MULTITASK_PROMPT_TUNING,
    /** Adaption prompt, LLaMA-Adapter (not implemented by peft4j). */
    ADAPTION_PROMPT;

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
