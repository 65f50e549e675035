package org.peft4j.tensor;

import org.peft4j.testutil.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.safetensors.SafeTensors;

/**
 * {@link HalfFloats} against torch: {@code x.to(torch.bfloat16)}, {@code x.to(torch.float16)} and the reverse
 * conversions, as recorded in interop/fixtures/safetensors/halffloat.safetensors.
 */
class HalfFloatsTorchTest {

    private static boolean isNaN16(short bits, int expMask) {
        int b = bits & 0x7FFF;
        return (b & expMask) == expMask && (b & ~expMask) != 0;
    }

    @Test
    void floatToBf16AndF16MatchTorchBitForBit() throws IOException {
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("halffloat.safetensors"))) {
            float[] x = st.get("f32").toFloatArray();
            Tensor bf16 = st.get("bf16_bits");
            Tensor f16 = st.get("f16_bits");
            assertThat(bf16.dtype()).isEqualTo(DType.I16);
            assertThat(x.length).isGreaterThan(5000);
            assertThat(bf16.numel()).isEqualTo(x.length);
            assertThat(f16.numel()).isEqualTo(x.length);

            List<String> mismatches = new ArrayList<>();
            int nans = 0;
            int roundedUpBf16 = 0;
            int roundedUpF16 = 0;
            for (int i = 0; i < x.length; i++) {
                short wantBf = (short) bf16.getLong(i);
                short wantF = (short) f16.getLong(i);
                short gotBf = HalfFloats.floatToBf16(x[i]);
                short gotF = HalfFloats.floatToF16(x[i]);
                String in = String.format("x[%d]=%s (0x%08x)", i, x[i], Float.floatToRawIntBits(x[i]));
                if (Float.isNaN(x[i])) {
                    // torch canonicalizes NaN payloads (and, for bf16, drops the sign); both sides must stay NaN
                    nans++;
                    if (!isNaN16(gotBf, 0x7F80) || !isNaN16(wantBf, 0x7F80)) {
                        mismatches.add(in + " bf16 NaN: got " + hex(gotBf) + ", torch " + hex(wantBf));
                    }
                    if (!isNaN16(gotF, 0x7C00) || !isNaN16(wantF, 0x7C00)) {
                        mismatches.add(in + " f16 NaN: got " + hex(gotF) + ", torch " + hex(wantF));
                    }
                    continue;
                }
                if (gotBf != wantBf) {
                    mismatches.add(in + " bf16: got " + hex(gotBf) + ", torch " + hex(wantBf));
                }
                if (gotF != wantF) {
                    mismatches.add(in + " f16: got " + hex(gotF) + ", torch " + hex(wantF));
                }
                if ((wantBf & 0xFFFF) != (Float.floatToRawIntBits(x[i]) >>> 16)) {
                    roundedUpBf16++;
                }
                if (Math.abs(HalfFloats.f16ToFloat(wantF)) > Math.abs(x[i])) {
                    roundedUpF16++;
                }
            }
            assertThat(mismatches).as("conversions differing from torch").isEmpty();
            // the fixture exercises NaNs and rounding (not just truncation)
            assertThat(nans).isGreaterThan(3);
            assertThat(roundedUpBf16).isGreaterThan(500);
            assertThat(roundedUpF16).isGreaterThan(500);
        }
    }

    @Test
    void bf16AndF16ToFloatMatchTorch() throws IOException {
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("halffloat.safetensors"))) {
            Tensor bits = st.get("decode_bits");
            float[] f16 = st.get("f16_decoded").toFloatArray();
            float[] bf16 = st.get("bf16_decoded").toFloatArray();
            assertThat(bits.numel()).isGreaterThan(4000);
            List<String> mismatches = new ArrayList<>();
            for (int i = 0; i < bits.numel(); i++) {
                short h = (short) bits.getLong(i);
                check(mismatches, "f16", h, HalfFloats.f16ToFloat(h), f16[i]);
                check(mismatches, "bf16", h, HalfFloats.bf16ToFloat(h), bf16[i]);
            }
            assertThat(mismatches).isEmpty();
        }
    }

    private static void check(List<String> mismatches, String kind, short h, float got, float want) {
        boolean same = Float.isNaN(want) ? Float.isNaN(got)
                : Float.floatToRawIntBits(got) == Float.floatToRawIntBits(want);
        if (!same) {
            mismatches.add(kind + " " + hex(h) + ": got " + got + ", torch " + want);
        }
    }

    private static String hex(short s) {
        return String.format("0x%04x", s & 0xFFFF);
    }
}
