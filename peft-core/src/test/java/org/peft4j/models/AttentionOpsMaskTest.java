package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * {@link AttentionOps#attend} alone against transformers' own Llama and GPT-2 {@code eager_attention_forward} with
 * the mask of {@code masking_utils.eager_mask}, in float32 and float16, on a left-padded batch whose first two
 * queries of row 1 see no key (interop/make_mask_fixtures.py, attention.safetensors).
 */
class AttentionOpsMaskTest {
    static Path dir() {
        return Fixtures.root().resolve("masking");
    }

    /**
     * float32: every query row, fully masked ones included (uniform over all keys). float16: the rows with at least
     * one visible key, within 2^-7 (relative above 1: eight float16 ulps; torch rounds the scores, about 100 here,
     * to float16 between the ops, ONNX Runtime's CPU provider does not, see below). The fully masked float16 rows are not compared: transformers rounds
     * {@code score + finfo.min} to float16 (multiples of 32, -inf at or below -16) and so does this graph, but ONNX
     * Runtime's CPU provider has no float16 Add / Softmax kernels and runs them in float32 with the float16
     * round trip between them removed, so on CPU the sum is never rounded (see interop/README.md).
     */
    @ParameterizedTest
    @CsvSource({"llama, F32", "gpt2, F32", "llama, F16", "gpt2, F16"})
    void attendMatchesEagerAttentionForward(String family, DType dtype) throws Exception {
        String tag = dtype == DType.F16 ? "f16" : "f32";
        try (SafeTensors ref = SafeTensors.open(dir().resolve("attention.safetensors"));
                OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            Tensor qt = ref.get("q_" + tag);
            assertThat(qt.dtype()).isEqualTo(dtype);
            int heads = (int) qt.dim(1);
            int seq = (int) qt.dim(2);
            int headDim = (int) qt.dim(3);
            Graph g = new Graph();
            Dim b = Dim.of("batch");
            Dim t = Dim.of("seq");
            Value q = g.input("q", dtype, b, Dim.of(heads), t, Dim.of(headDim));
            Value k = g.input("k", dtype, b, Dim.of(heads), t, Dim.of(headDim));
            Value v = g.input("v", dtype, b, Dim.of(heads), t, Dim.of(headDim));
            Value mask = g.input("attention_mask", DType.I64, b, t);
            Value allowed = AttentionOps.allowedMask(g, g.dimOf(q, 2), g.intScalar(0), mask);
            double scale = 1.0 / Math.sqrt(headDim);
            Value out = family.equals("llama") ? AttentionOps.attend(g, q, k, v, allowed, scale)
                    : AttentionOps.attend(g, q, k, v, allowed, scale, null, false);
            g.output("out", g.transpose(out, 0, 2, 1, 3));
            Map<String, Tensor> feed = new LinkedHashMap<>();
            feed.put("q", qt);
            feed.put("k", ref.get("k_" + tag));
            feed.put("v", ref.get("v_" + tag));
            feed.put("attention_mask", ref.get("attention_mask"));
            Tensor got = rt.compile(g, Parameter::trainable).run(feed).get("out");
            Tensor want = ref.get("out_" + family + "_" + tag);
            assertThat(got.dtype()).isEqualTo(dtype);
            assertThat(got.shape()).containsExactly(want.shape());
            float[] gf = got.to(DType.F32).toFloatArray();
            float[] wf = want.to(DType.F32).toFloatArray();
            long[] am = ref.get("attention_mask").toLongArray();
            int compared = 0;
            int fullyMasked = 0;
            for (int row = 0; row < gf.length / headDim; row++) {      // [B, T, H] rows of D
                int bi = row / (heads * seq);
                int ti = row / heads % seq;
                boolean anyVisible = false;
                for (int j = 0; j <= ti; j++) {
                    anyVisible |= am[bi * seq + j] == 1;
                }
                if (!anyVisible) {
                    fullyMasked++;
                    if (dtype == DType.F16) {
                        continue;
                    }
                }
                for (int c = 0; c < headDim; c++) {
                    int idx = row * headDim + c;
                    double tol = dtype == DType.F16 ? Math.scalb(1.0, -7) * Math.max(1, Math.abs(wf[idx])) : 1e-5;
                    assertThat((double) Math.abs(gf[idx] - wf[idx])).as("row " + row + " col " + c)
                            .isLessThanOrEqualTo(tol);
                    compared++;
                }
            }
            assertThat(fullyMasked).isEqualTo(2 * heads);
            assertThat(compared).isGreaterThanOrEqualTo(gf.length - fullyMasked * headDim);
        }
    }

    @Test
    void theMaskValueIsTorchFinfoMinOfTheDtype() throws Exception {
        JsonObject fmin = Fixtures.json(dir().resolve("masking.json")).getAsJsonObject("attention")
                .getAsJsonObject("finfo_min");
        assertThat(AttentionOps.minValue(DType.F16)).isEqualTo(fmin.get("float16").getAsDouble());
        assertThat(AttentionOps.minValue(DType.BF16)).isEqualTo(fmin.get("bfloat16").getAsDouble());
        assertThat(AttentionOps.minValue(DType.F32)).isEqualTo(fmin.get("float32").getAsDouble());
        assertThat(AttentionOps.minValue(DType.F64)).isEqualTo(fmin.get("float64").getAsDouble());
    }

    /** The additive mask is 0 / finfo.min in the scores' dtype, as masking_utils.eager_mask (run in F32 and F16). */
    @ParameterizedTest
    @CsvSource({"F32", "F16"})
    void additiveMaskIsZeroOrMinInTheScoresDtype(DType dtype) throws Exception {
        Graph g = new Graph();
        Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value allowed = AttentionOps.allowedMask(g, g.dimOf(mask, 1), g.intScalar(0), mask);
        g.output("m", AttentionOps.additiveMask(g, allowed, dtype));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            Tensor m = rt.compile(g, Parameter::trainable).run(Map.of("attention_mask",
                    Tensor.of(new long[] {0, 1, 1}, 1, 3))).get("m");
            assertThat(m.dtype()).isEqualTo(dtype);
            assertThat(m.shape()).containsExactly(1, 1, 3, 3);
            float min = (float) AttentionOps.minValue(dtype);
            assertThat(m.to(DType.F32).toFloatArray()).containsExactly(
                    min, min, min,
                    min, 0, min,
                    min, 0, 0);
        }
    }
}
