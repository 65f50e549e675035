package org.peft4j.qlora;

/** The 4-bit data types of bitsandbytes ({@code bnb_4bit_quant_type}). */
public enum QuantType {
    /** 4-bit NormalFloat: 16 quantiles of N(0,1) scaled to [-1, 1] (the QLoRA paper's NF4). */
    NF4,
    /** bitsandbytes' 4-bit float (E2M1, sign in bit 3), scaled to [-1, 1]. */
    FP4;

    /** The name used by bitsandbytes and transformers: {@code "nf4"} or {@code "fp4"}. */
    public String bnbName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The type named {@code name} ({@code "nf4"} or {@code "fp4"}).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static QuantType fromBnbName(String name) {
        for (QuantType t : values()) {
            if (t.bnbName().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("bnb_4bit_quant_type must be 'nf4' or 'fp4', got '" + name + "'");
    }
}
