package org.peft4j.qlora;

/**
 * The 16-entry code tables of bitsandbytes' 4-bit types, index = 4-bit code ({@code get_4bit_type}; identical to
 * {@code nf4_dequantization_lut} in bitsandbytes' kernels and ORT's {@code blockwise_quant_block_bnb4.h}).
 */
final class Codes4bit {
    private Codes4bit() {
    }

    /** The 16 values of {@code t}, float32 ({@link Bnb4bit#codeTable}). */
    static float[] table(QuantType t) {
        return Bnb4bit.codeTable(t);
    }

    /**
     * The values of both codes of every byte: {@code [256, 2]}, row {@code b} = (code[b >> 4], code[b & 15]), the
     * high nibble first as bitsandbytes packs them. Gathering rows of it by byte unpacks and looks up in one step.
     */
    static float[] pairTable(float[] code) {
        float[] out = new float[512];
        for (int b = 0; b < 256; b++) {
            out[2 * b] = code[b >> 4];
            out[2 * b + 1] = code[b & 15];
        }
        return out;
    }
}
