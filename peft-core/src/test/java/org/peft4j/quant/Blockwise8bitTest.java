package org.peft4j.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.TestGaussian;

/**
 * {@link Blockwise8bit} against bitsandbytes 0.50.2's quantize_blockwise / dequantize_blockwise on its CPU path
 * (native lookup-table kernel), byte for byte (interop/make_quant_fixtures.py, fixtures/quant/blockwise8.*).
 */
class Blockwise8bitTest {
    static final Path DIR = Fixtures.root().resolve("quant");

    static JsonObject cases() throws Exception {
        return Fixtures.json(DIR.resolve("blockwise8.json")).getAsJsonObject("cases");
    }

    static Tensor input(SafeTensors st, String name, JsonObject c) throws Exception {
        if (st.contains(name + ".input")) {
            return st.get(name + ".input");
        }
        int seed = c.get("seed").getAsInt();
        int n = c.get("n").getAsInt();
        float[] x = TestGaussian.gaussian(seed, n);
        if (name.startsWith("unsigned")) {
            for (int i = 0; i < n; i++) {
                x[i] = x[i] * x[i];
            }
        }
        long sum = TestGaussian.checksum(x);
        assertThat(Long.toUnsignedString(sum)).as("regenerated input of %s", name)
                .isEqualTo(c.get("input_checksum").getAsString());
        return Tensor.of(x, n);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gauss64k", "mixed_b64", "unsigned_b256", "centered_b256", "bf16_b128", "f16_b4096",
            "lut_bins_b4096", "dupmap_b4096", "recip_b4096"})
    void quantizeAndDequantizeAreBitExactWithBnb(String name) throws Exception {
        JsonObject c = cases().getAsJsonObject(name);
        try (SafeTensors st = SafeTensors.open(DIR.resolve("blockwise8.safetensors"))) {
            float[] code = st.get("map_" + c.get("map").getAsString()).toFloatArray();
            Tensor x = input(st, name, c);
            int bs = c.get("blocksize").getAsInt();
            Blockwise8bit.Quantized q = Blockwise8bit.quantize(x, code, bs);
            byte[] expCodes = bytes(st.get(name + ".codes"));
            byte[] codes = bytes(q.codes());
            assertThat(mismatches(codes, expCodes)).as("codes differing from bnb").isZero();
            assertBits(q.absmax().toFloatArray(), st.get(name + ".absmax").toFloatArray(), "absmax");
            if (st.contains(name + ".deq")) {
                Tensor exp = st.get(name + ".deq");
                Tensor deq = Blockwise8bit.dequantize(q.codes(), q.absmax(), code, bs, x.dtype());
                assertThat(deq.dtype()).isEqualTo(exp.dtype());
                assertThat(deq.data()).as("dequantized bytes").isEqualTo(exp.data());
            }
        }
    }

    @Test
    void fixtureTellsTheLookupTableFromNearestRounding() throws Exception {
        // bnb's lookup table puts ~0.2% of values on a neighbour of the nearest code: the fixture must contain such
        // values, else the byte comparison above could not tell the two roundings apart.
        JsonObject c = cases().getAsJsonObject("gauss64k");
        assertThat(c.get("differs_from_nearest").getAsInt()).isBetween(50, 200);
        float[] x = TestGaussian.gaussian(8, 65536);
        float[] code = DynamicMap.create(true);
        byte[] codes = new byte[x.length];
        float[] absmax = new float[256];
        Blockwise8bit.quantize(x, 0, x.length, code, 256, codes, 0, absmax, 0);
        int differs = 0;
        for (int i = 0; i < x.length; i++) {
            float y = x[i] * (1f / absmax[i / 256]);
            int best = 0;
            for (int k = 1; k < 256; k++) {
                if (Math.abs(y - code[k]) < Math.abs(y - code[best])) {
                    best = k;
                }
            }
            differs += best != (codes[i] & 0xFF) ? 1 : 0;
        }
        assertThat(differs).isEqualTo(c.get("differs_from_nearest").getAsInt());
    }

    @Test
    void slicesAreQuantizedInPlaceWithoutTouchingTheirNeighbours() throws Exception {
        try (SafeTensors st = SafeTensors.open(DIR.resolve("blockwise8.safetensors"))) {
            float[] x = st.get("mixed_b64.input").toFloatArray();
            float[] code = st.get("map_signed").toFloatArray();
            float[] src = new float[x.length + 10];
            System.arraycopy(x, 0, src, 7, x.length);
            byte[] codes = new byte[x.length + 5];
            Arrays.fill(codes, (byte) 0x5A);
            float[] absmax = new float[16 + 4];
            Arrays.fill(absmax, -7f);
            Blockwise8bit.quantize(src, 7, x.length, code, 64, codes, 3, absmax, 2);
            assertThat(Arrays.copyOfRange(codes, 3, 3 + x.length)).isEqualTo(bytes(st.get("mixed_b64.codes")));
            assertThat(codes[0]).isEqualTo((byte) 0x5A);
            assertThat(codes[x.length + 3]).isEqualTo((byte) 0x5A);
            assertBits(Arrays.copyOfRange(absmax, 2, 18), st.get("mixed_b64.absmax").toFloatArray(), "absmax");
            assertThat(absmax[1]).isEqualTo(-7f);
            assertThat(absmax[18]).isEqualTo(-7f);
            float[] out = new float[x.length + 2];
            Blockwise8bit.dequantize(codes, 3, x.length, code, absmax, 2, 64, out, 1);
            assertBits(Arrays.copyOfRange(out, 1, 1 + x.length), st.get("mixed_b64.deq").toFloatArray(), "deq");
            assertThat(out[0]).isZero();
        }
    }

    @Test
    void refusesWhatBnbRefuses() {
        assertThatThrownBy(() -> Blockwise8bit.quantize(Tensor.of(new float[4], 4), DynamicMap.create(true), 0))
                .hasMessage("blocksize must be positive, got 0");
        assertThatThrownBy(() -> Blockwise8bit.quantize(Tensor.zeros(DType.F64, 4), DynamicMap.create(true), 64))
                .hasMessageStartingWith("Blockwise quantization only supports 16/32-bit floats, but got");
    }

    static byte[] bytes(Tensor t) {
        byte[] b = new byte[Math.toIntExact(t.byteSize())];
        t.data().get(b);
        return b;
    }

    static int mismatches(byte[] a, byte[] b) {
        assertThat(a).hasSize(b.length);
        int m = 0;
        for (int i = 0; i < a.length; i++) {
            m += a[i] != b[i] ? 1 : 0;
        }
        return m;
    }

    static void assertBits(float[] actual, float[] expected, String what) {
        assertThat(actual).as(what).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(Float.floatToRawIntBits(actual[i])).as("%s[%d]: %s vs bnb %s", what, i, actual[i], expected[i])
                    .isEqualTo(Float.floatToRawIntBits(expected[i]));
        }
    }
}
