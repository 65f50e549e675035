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
    ADAMW_TORCH("adamw_torch"),
    ADAMW_TORCH_FUSED("adamw_torch_fused"),
    ADAMW_TORCH_XLA("adamw_torch_xla"),
    ADAMW_TORCH_NPU_FUSED("adamw_torch_npu_fused"),
    ADAFACTOR("adafactor"),
    ADAMW_ANYPRECISION("adamw_anyprecision"),
    ADAMW_TORCH_4BIT("adamw_torch_4bit"),
    ADAMW_TORCH_8BIT("adamw_torch_8bit"),
    ADEMAMIX("ademamix"),
    SGD("sgd"),
    ADAGRAD("adagrad"),
    ADAMW_BNB("adamw_bnb_8bit"),
    ADAMW_8BIT("adamw_8bit"),
    ADEMAMIX_8BIT("ademamix_8bit"),
    LION_8BIT("lion_8bit"),
    LION("lion_32bit"),
    PAGED_ADAMW("paged_adamw_32bit"),
    PAGED_ADAMW_8BIT("paged_adamw_8bit"),
    PAGED_ADEMAMIX("paged_ademamix_32bit"),
    PAGED_ADEMAMIX_8BIT("paged_ademamix_8bit"),
    PAGED_LION("paged_lion_32bit"),
    PAGED_LION_8BIT("paged_lion_8bit"),
    RMSPROP("rmsprop"),
    RMSPROP_BNB("rmsprop_bnb"),
    RMSPROP_8BIT("rmsprop_bnb_8bit"),
    RMSPROP_32BIT("rmsprop_bnb_32bit"),
    GALORE_ADAMW("galore_adamw"),
    GALORE_ADAMW_8BIT("galore_adamw_8bit"),
    GALORE_ADAFACTOR("galore_adafactor"),
    GALORE_ADAMW_LAYERWISE("galore_adamw_layerwise"),
    GALORE_ADAMW_8BIT_LAYERWISE("galore_adamw_8bit_layerwise"),
    GALORE_ADAFACTOR_LAYERWISE("galore_adafactor_layerwise"),
    LOMO("lomo"),
    ADALOMO("adalomo"),
    GROKADAMW("grokadamw"),
    SCHEDULE_FREE_RADAM("schedule_free_radam"),
    SCHEDULE_FREE_ADAMW("schedule_free_adamw"),
    SCHEDULE_FREE_SGD("schedule_free_sgd"),
    APOLLO_ADAMW("apollo_adamw"),
    APOLLO_ADAMW_LAYERWISE("apollo_adamw_layerwise"),
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
