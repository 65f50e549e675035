package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.TestGaussian;

/**
 * {@link Bnb4bit} against bitsandbytes 0.50.2's quantize_4bit / dequantize_4bit (portable path), byte for byte:
 * interop/make_quant_fixtures.py, fixtures/quant/fourbit.* and gaussian_stats.json.
 */
class Bnb4bitTest {
    static final Path DIR = Fixtures.root().resolve("quant");
    static SafeTensors st;
    static JsonObject cases;

    @BeforeAll
    static void open() throws Exception {
        st = SafeTensors.open(DIR.resolve("fourbit.safetensors"));
        cases = Fixtures.json(DIR.resolve("fourbit.json")).getAsJsonObject("cases");
    }

    @AfterAll
    static void close() throws Exception {
        st.close();
    }

    static Stream<String> caseNames() throws Exception {
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : Fixtures.json(Fixtures.root().resolve("quant").resolve("fourbit.json"))
                .getAsJsonObject("cases").entrySet()) {
            names.add(e.getKey());
        }
        return names.stream();
    }

    static Tensor input(String name, JsonObject c) throws Exception {
        long[] shape = longs(c.get("shape").getAsJsonArray());
        if (c.has("input")) {
            return st.get(c.get("input").getAsString());
        }
        float[] x = TestGaussian.gaussian(c.get("seed").getAsLong(), Math.toIntExact(Tensor.numel(shape)));
        assertThat(Long.toUnsignedString(TestGaussian.checksum(x))).as("regenerated input of " + name)
                .isEqualTo(c.get("input_checksum").getAsString());
        return Tensor.of(x, shape);
    }

    @ParameterizedTest
    @MethodSource("caseNames")
    void quantizeIsBitExactWithBnb(String name) throws Exception {
        JsonObject c = cases.getAsJsonObject(name);
        Tensor x = input(name, c);
        QuantType qt = QuantType.fromBnbName(c.get("quant_type").getAsString());
        int bs = c.get("blocksize").getAsInt();
        boolean cs = c.get("compress_statistics").getAsBoolean();
        Packed4bit p = Bnb4bit.quantize(name, x, qt, bs, cs);
        QuantState s = p.state();

        assertThat(p.packed().dtype()).isEqualTo(DType.U8);
        assertThat(p.packed().shape()).isEqualTo(longs(c.get("packed_shape").getAsJsonArray()));
        if (st.contains(name + ".packed")) {
            assertThat(mismatches(bytes(p.packed()), bytes(st.get(name + ".packed")))).as("packed bytes differing")
                    .isZero();
        }
        assertThat(Long.toUnsignedString(TestGaussian.fnv1a(bytes(p.packed())))).as("packed hash")
                .isEqualTo(c.get("packed_fnv1a").getAsString());
        assertThat(s.absmax().data()).as("absmax bytes").isEqualTo(st.get(name + ".absmax").data());
        assertThat(s.absmax().dtype()).isEqualTo(cs ? DType.U8 : DType.F32);
        assertThat(s.shape()).isEqualTo(x.shape());
        assertThat(s.dtype()).isEqualTo(x.dtype());
        assertThat(s.blocksize()).isEqualTo(bs);
        assertThat(s.code().data()).as("code table").isEqualTo(st.get("code_" + qt.bnbName()).data());
        if (cs) {
            assertThat(Integer.toUnsignedLong(Float.floatToRawIntBits(s.nested().offset()))).as("offset bits")
                    .isEqualTo(c.get("offset_bits").getAsLong());
            assertThat(s.nested().absmax().data()).as("nested absmax")
                    .isEqualTo(st.get(name + ".nested_absmax").data());
            assertThat(s.nested().code().data()).as("nested code").isEqualTo(st.get(name + ".nested_code").data());
            assertThat(s.nested().blocksize()).isEqualTo(c.get("nested_blocksize").getAsInt());
            assertThat(Bnb4bit.absmaxF32(s).data()).as("de-nested absmax")
                    .isEqualTo(st.get(name + ".absmax_f32").data());
        } else {
            assertThat(Bnb4bit.absmaxF32(s).data()).isEqualTo(st.get(name + ".absmax").data());
        }
        Tensor deq = Bnb4bit.dequantize(p.packed(), s);
        assertDeq(name, c, deq, x);
    }

    /** dequantize on bnb's own packed bytes and state (independent of our quantizer). */
    @ParameterizedTest
    @MethodSource("caseNames")
    void dequantizeOfBnbStateIsBitExact(String name) throws Exception {
        JsonObject c = cases.getAsJsonObject(name);
        if (!st.contains(name + ".packed")) {
            return;
        }
        QuantType qt = QuantType.fromBnbName(c.get("quant_type").getAsString());
        boolean cs = c.get("compress_statistics").getAsBoolean();
        long[] shape = longs(c.get("shape").getAsJsonArray());
        DType dt = DType.fromTorchName(c.get("dtype").getAsString());
        QuantState.Nested nested = cs ? new QuantState.Nested(
                Float.intBitsToFloat((int) c.get("offset_bits").getAsLong()), st.get(name + ".nested_absmax"),
                st.get(name + ".nested_code"), c.get("nested_blocksize").getAsInt()) : null;
        QuantState s = new QuantState(qt, c.get("blocksize").getAsInt(), shape, dt, st.get(name + ".absmax"),
                st.get("code_" + qt.bnbName()), nested);
        Tensor packed = st.get(name + ".packed");
        Tensor deq = Bnb4bit.dequantize(packed.reshape(packed.numel(), 1), s);
        assertDeq(name, c, deq, null);
        Tensor f32 = Bnb4bit.dequantizeF32(packed.reshape(packed.numel(), 1), s);
        assertThat(f32.dtype()).isEqualTo(DType.F32);
        if (dt == DType.F32) {
            assertThat(f32.data()).isEqualTo(deq.data());
        } else {
            // rounding the float32 products to the half type gives bnb's output
            assertThat(f32.to(dt).data()).isEqualTo(deq.data());
        }
    }

    private static void assertDeq(String name, JsonObject c, Tensor deq, Tensor x) throws Exception {
        assertThat(deq.dtype()).isEqualTo(DType.fromTorchName(c.get("dtype").getAsString()));
        assertThat(deq.shape()).isEqualTo(longs(c.get("shape").getAsJsonArray()));
        if (st.contains(name + ".deq")) {
            assertThat(deq.data()).as("dequantized bytes").isEqualTo(st.get(name + ".deq").data());
        }
        assertThat(Long.toUnsignedString(TestGaussian.fnv1a(bytes(deq)))).as("dequantized hash")
                .isEqualTo(c.get("deq_fnv1a").getAsString());
    }

    @Test
    void nf4AndFp4ErrorStatisticsOnA1024x1024GaussianEqualBnb() throws Exception {
        JsonObject g = Fixtures.json(DIR.resolve("gaussian_stats.json"));
        float[] x = TestGaussian.gaussian(g.get("seed").getAsLong(), 1024 * 1024);
        assertThat(Long.toUnsignedString(TestGaussian.checksum(x))).isEqualTo(g.get("input_checksum").getAsString());
        Tensor w = Tensor.of(x, 1024, 1024);
        for (QuantType t : QuantType.values()) {
            JsonObject ref = g.getAsJsonObject(t.bnbName());
            Packed4bit p = Bnb4bit.quantize("w", w, t, 64, false);
            assertThat(Long.toUnsignedString(TestGaussian.fnv1a(bytes(p.packed())))).as(t + " packed hash")
                    .isEqualTo(ref.get("packed_fnv1a").getAsString());
            float[] d = Bnb4bit.dequantize(p.packed(), p.state()).toFloatArray();
            double sum = 0;
            for (int i = 0; i < x.length; i++) {
                sum += Math.abs((double) d[i] - x[i]);
            }
            double mae = sum / x.length;
            assertThat(mae).as(t + " mean absolute error vs bnb's").isCloseTo(ref.get("mae").getAsDouble(),
                    org.assertj.core.data.Offset.offset(1e-12));
            // bnb's published figures (qlora.md section 9): NF4 0.0729, FP4 0.0966 (another Gaussian sample)
            double published = t == QuantType.NF4 ? 0.0729 : 0.0966;
            assertThat(mae).isCloseTo(published, org.assertj.core.data.Offset.offset(5e-4));
        }
    }

    @Test
    void refusesWhatBnbRefuses() {
        Tensor w = Tensor.of(new float[64], 64);
        for (int bs : new int[] {16, 48, 100, 8192, 0}) {
            assertThatThrownBy(() -> Bnb4bit.quantize("w", w, QuantType.NF4, bs, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("invalid blocksize " + bs);
        }
        assertThatThrownBy(() -> Bnb4bit.quantize("w", Tensor.zeros(DType.F64, 4), QuantType.NF4, 64, false))
                .hasMessageContaining("Blockwise 4bit quantization only supports 16/32-bit floats, but got");
        float[] v = new float[200];
        v[130] = Float.NaN;
        assertThatThrownBy(() -> Bnb4bit.quantize("model.layers.0.mlp.up_proj.weight", Tensor.of(v, 200),
                QuantType.NF4, 64, true)).hasMessageContaining("'model.layers.0.mlp.up_proj.weight'")
                .hasMessageContaining("inf or NaN");
        v[130] = Float.NEGATIVE_INFINITY;
        assertThatThrownBy(() -> Bnb4bit.quantize("lm_head.weight", Tensor.of(v, 200).to(DType.BF16),
                QuantType.FP4, 64, false)).hasMessageContaining("'lm_head.weight'");
    }

    static long[] longs(com.google.gson.JsonArray a) {
        long[] r = new long[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).getAsLong();
        }
        return r;
    }

    static byte[] bytes(Tensor t) {
        ByteBuffer b = t.data();
        byte[] r = new byte[b.remaining()];
        b.get(r);
        return r;
    }

    static int mismatches(byte[] a, byte[] b) {
        assertThat(a).hasSize(b.length);
        int m = 0;
        for (int i = 0; i < a.length; i++) {
            m += a[i] != b[i] ? 1 : 0;
        }
        return m;
    }
}
