package org.peft4j.qlora;

/**
 * The 16-entry code tables of bitsandbytes' 4-bit types, index = 4-bit code ({@code get_4bit_type}; identical to
 * {@code nf4_dequantization_lut} in bitsandbytes' kernels and ORT's {@code blockwise_quant_block_bnb4.h}).
 */
final class Codes4bit {
    private static final int[] NF4_BITS = {0xbf800000, 0xbf3239b1, 0xbf066b30, 0xbeca32a0, 0xbe91a24d, 0xbe3d353f,
        0xbdba7871, 0x00000000, 0x3da2faff, 0x3e24cae3, 0x3e7c04dd, 0x3ead033a, 0x3ee1a4b8, 0x3f1007ab, 0x3f3913b3,
        0x3f800000};
    private static final float[] FP4_RAW = {0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, -0f, -0.0625f, -8f, -12f, -4f, -6f,
        -2f, -3f};

    private Codes4bit() {
    }

    /** The 16 values of {@code t}, float32. */
    static float[] table(QuantType t) {
        float[] out = new float[16];
        for (int i = 0; i < 16; i++) {
            out[i] = t == QuantType.NF4 ? Float.intBitsToFloat(NF4_BITS[i]) : FP4_RAW[i] / 12f;
        }
        return out;
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
