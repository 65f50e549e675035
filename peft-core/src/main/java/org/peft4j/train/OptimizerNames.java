package org.peft4j.train;

import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code OptimizerNames}: every value {@code TrainingArguments.optim} accepts, in transformers' order.
 * peft4j implements the AdamW family ({@link #isSupported()}):
 * <ul>
 *   <li>{@code adamw_torch}, {@code adamw_torch_fused} (the default, as transformers with torch &gt;= 2.8): torch's
 *       AdamW, 32-bit moments (8 bytes of state per trainable element). The fused kernel computes the same update.
 *   <li>{@code adamw_8bit} = {@code adamw_bnb_8bit}, {@code paged_adamw_8bit}: bitsandbytes' AdamW with
 *       {@code optim_bits=8}: blockwise 8-bit moments for parameters of at least 4096 elements (about 2.03 bytes per
 *       element), 32-bit ones below that and for embedding weights, as transformers configures it.
 *   <li>{@code paged_adamw_32bit}: bitsandbytes' AdamW with 32-bit moments (its own update arithmetic, which places
 *       epsilon differently from torch's).
 * </ul>
 * The {@code paged_} variants keep their states in a memory-mapped file instead of the heap, see {@link BnbAdamW}.
 */
public enum OptimizerNames {
    /** {@code "adamw_torch"} (implemented by peft4j). */
    ADAMW_TORCH("adamw_torch"),
    /** {@code "adamw_torch_fused"} (implemented by peft4j). */
    ADAMW_TORCH_FUSED("adamw_torch_fused"),
    /** {@code "adamw_torch_xla"} (accepted by transformers; refused by peft4j). */
    ADAMW_TORCH_XLA("adamw_torch_xla"),
    /** {@code "adamw_torch_npu_fused"} (accepted by transformers; refused by peft4j). */
    ADAMW_TORCH_NPU_FUSED("adamw_torch_npu_fused"),
    /** {@code "adafactor"} (accepted by transformers; refused by peft4j). */
    ADAFACTOR("adafactor"),
    /** {@code "adamw_anyprecision"} (accepted by transformers; refused by peft4j). */
    ADAMW_ANYPRECISION("adamw_anyprecision"),
    /** {@code "adamw_torch_4bit"} (accepted by transformers; refused by peft4j). */
    ADAMW_TORCH_4BIT("adamw_torch_4bit"),
    /** {@code "adamw_torch_8bit"} (accepted by transformers; refused by peft4j). */
    ADAMW_TORCH_8BIT("adamw_torch_8bit"),
    /** {@code "ademamix"} (accepted by transformers; refused by peft4j). */
    ADEMAMIX("ademamix"),
    /** {@code "sgd"} (accepted by transformers; refused by peft4j). */
    SGD("sgd"),
    /** {@code "adagrad"} (accepted by transformers; refused by peft4j). */
    ADAGRAD("adagrad"),
    /** {@code "adamw_bnb_8bit"} (implemented by peft4j). */
    ADAMW_BNB("adamw_bnb_8bit"),
    /** {@code "adamw_8bit"} (implemented by peft4j). */
    ADAMW_8BIT("adamw_8bit"),
    /** {@code "ademamix_8bit"} (accepted by transformers; refused by peft4j). */
    ADEMAMIX_8BIT("ademamix_8bit"),
    /** {@code "lion_8bit"} (accepted by transformers; refused by peft4j). */
    LION_8BIT("lion_8bit"),
    /** {@code "lion_32bit"} (accepted by transformers; refused by peft4j). */
    LION("lion_32bit"),
    /** {@code "paged_adamw_32bit"} (implemented by peft4j). */
    PAGED_ADAMW("paged_adamw_32bit"),
    /** {@code "paged_adamw_8bit"} (implemented by peft4j). */
    PAGED_ADAMW_8BIT("paged_adamw_8bit"),
    /** {@code "paged_ademamix_32bit"} (accepted by transformers; refused by peft4j). */
    PAGED_ADEMAMIX("paged_ademamix_32bit"),
    /** {@code "paged_ademamix_8bit"} (accepted by transformers; refused by peft4j). */
    PAGED_ADEMAMIX_8BIT("paged_ademamix_8bit"),
    /** {@code "paged_lion_32bit"} (accepted by transformers; refused by peft4j). */
    PAGED_LION("paged_lion_32bit"),
    /** {@code "paged_lion_8bit"} (accepted by transformers; refused by peft4j). */
    PAGED_LION_8BIT("paged_lion_8bit"),
    /** {@code "rmsprop"} (accepted by transformers; refused by peft4j). */
    RMSPROP("rmsprop"),
    /** {@code "rmsprop_bnb"} (accepted by transformers; refused by peft4j). */
    RMSPROP_BNB("rmsprop_bnb"),
    /** {@code "rmsprop_bnb_8bit"} (accepted by transformers; refused by peft4j). */
    RMSPROP_8BIT("rmsprop_bnb_8bit"),
    /** {@code "rmsprop_bnb_32bit"} (accepted by transformers; refused by peft4j). */
    RMSPROP_32BIT("rmsprop_bnb_32bit"),
    /** {@code "galore_adamw"} (accepted by transformers; refused by peft4j). */
    GALORE_ADAMW("galore_adamw"),
    /** {@code "galore_adamw_8bit"} (accepted by transformers; refused by peft4j). */
    GALORE_ADAMW_8BIT("galore_adamw_8bit"),
    /** {@code "galore_adafactor"} (accepted by transformers; refused by peft4j). */
    GALORE_ADAFACTOR("galore_adafactor"),
    /** {@code "galore_adamw_layerwise"} (accepted by transformers; refused by peft4j). */
    GALORE_ADAMW_LAYERWISE("galore_adamw_layerwise"),
    /** {@code "galore_adamw_8bit_layerwise"} (accepted by transformers; refused by peft4j). */
    GALORE_ADAMW_8BIT_LAYERWISE("galore_adamw_8bit_layerwise"),
    /** {@code "galore_adafactor_layerwise"} (accepted by transformers; refused by peft4j). */
    GALORE_ADAFACTOR_LAYERWISE("galore_adafactor_layerwise"),
    /** {@code "lomo"} (accepted by transformers; refused by peft4j). */
    LOMO("lomo"),
    /** {@code "adalomo"} (accepted by transformers; refused by peft4j). */
    ADALOMO("adalomo"),
    /** {@code "grokadamw"} (accepted by transformers; refused by peft4j). */
    GROKADAMW("grokadamw"),
    /** {@code "schedule_free_radam"} (accepted by transformers; refused by peft4j). */
    SCHEDULE_FREE_RADAM("schedule_free_radam"),
    /** {@code "schedule_free_adamw"} (accepted by transformers; refused by peft4j). */
    SCHEDULE_FREE_ADAMW("schedule_free_adamw"),
    /** {@code "schedule_free_sgd"} (accepted by transformers; refused by peft4j). */
    SCHEDULE_FREE_SGD("schedule_free_sgd"),
    /** {@code "apollo_adamw"} (accepted by transformers; refused by peft4j). */
    APOLLO_ADAMW("apollo_adamw"),
    /** {@code "apollo_adamw_layerwise"} (accepted by transformers; refused by peft4j). */
    APOLLO_ADAMW_LAYERWISE("apollo_adamw_layerwise"),
    /** {@code "stable_adamw"} (accepted by transformers; refused by peft4j). */
    STABLE_ADAMW("stable_adamw");

    /** transformers' default {@code optim} (with torch &gt;= 2.8). */
    public static final OptimizerNames DEFAULT = ADAMW_TORCH_FUSED;

    private final String value;

    OptimizerNames(String value) {
        this.value = value;
    }

    /** The name as transformers spells it ({@code "adamw_8bit"}). */
    public String value() {
        return value;
    }

    @Override
    public String toString() {
        return value;
    }

    /**
     * The member named {@code value}, as transformers' {@code OptimizerNames(value)}.
     *
     * @throws IllegalArgumentException with transformers' message, "{@code X is not a valid OptimizerNames, please
     *     select one of ['adamw_torch', ...]}"
     */
    public static OptimizerNames of(String value) {
        for (OptimizerNames n : values()) {
            if (n.value.equals(value)) {
                return n;
            }
        }
        throw new IllegalArgumentException(value + " is not a valid OptimizerNames, please select one of "
                + pythonList(List.of(values())));
    }

    /** Whether peft4j implements this optimizer. */
    public boolean isSupported() {
        return stateFormat() != null;
    }

    /** The supported names, in transformers' order. */
    public static List<OptimizerNames> supported() {
        List<OptimizerNames> out = new ArrayList<>();
        for (OptimizerNames n : values()) {
            if (n.isSupported()) {
                out.add(n);
            }
        }
        return out;
    }

    /** Whether this is a bitsandbytes optimizer ({@code "paged"} in the name puts its states in paged memory). */
    public boolean isPaged() {
        return value.contains("paged");
    }

    /** bitsandbytes' {@code optim_bits} as transformers derives it: 8 when the name contains "8bit", else 32. */
    public int optimBits() {
        return value.contains("8bit") ? 8 : 32;
    }

    /** The checkpoint state format (see {@link Optimizer#stateFormat()}), or null when unsupported. */
    String stateFormat() {
        switch (this) {
            case ADAMW_TORCH:
            case ADAMW_TORCH_FUSED:
                return "torch_adamw";
            case ADAMW_BNB:
            case ADAMW_8BIT:
            case PAGED_ADAMW_8BIT:
                return "bnb_adamw_8bit";
            case PAGED_ADAMW:
                return "bnb_adamw_32bit";
            default:
                return null;
        }
    }

    /**
     * Throws unless peft4j implements this optimizer, with transformers' message for an optimizer its Trainer
     * cannot build ("{@code Trainer cannot instantiate unsupported optimizer: X}") and the names peft4j supports.
     */
    OptimizerNames requireSupported() {
        if (!isSupported()) {
            throw new IllegalArgumentException("Trainer cannot instantiate unsupported optimizer: " + value
                    + " (peft4j supports " + pythonList(supported()) + ")");
        }
        return this;
    }

    private static String pythonList(List<OptimizerNames> names) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < names.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append('\'').append(names.get(i).value).append('\'');
        }
        return sb.append(']').toString();
    }
}
