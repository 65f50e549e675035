package org.peft4j.lora;

/**
 * PEFT's {@code LoftQConfig} ({@code loftq_config} of {@link LoraConfig}), used with
 * {@code init_lora_weights="loftq"}: LoftQ quantizes the base weight and initialises A and B from the quantization
 * residual. The algorithm lives in the peft-qlora module ({@code org.peft4j.qlora.LoftQ}), found through
 * {@link LoraWeightInitializer}.
 *
 * @param loftqBits {@code loftq_bits}: quantization bits (PEFT supports 4, NF4, and 8, bitsandbytes int8)
 * @param loftqIter {@code loftq_iter}: alternating iterations (PEFT's default 1; published LoftQ models use 5)
 */
public record LoftQConfig(int loftqBits, int loftqIter) {
    /** PEFT's defaults: {@code loftq_bits=4, loftq_iter=1}. */
    public LoftQConfig() {
        this(4, 1);
    }
}
