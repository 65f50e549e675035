package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoRA initialisation variants and scalings ({@code peft.md} section 3: {@code init_lora_weights} true,
 * "gaussian", "pissa", "olora"; {@code use_rslora}), and the peft4j {@code enable_lora} extension for fused
 * projections (GPT-2's {@code c_attn}).
 */
class LoraInitBatteryTest {

    static RealMatrix m(Tensor t) {
        return new Array2DRowRealMatrix(LoraWeightedAdapterBatteryTest.matrix(t), false);
    }

    static double maxAbsDiff(RealMatrix a, RealMatrix b) {
        return LoraWeightedAdapterBatteryTest.maxAbsDiff(a, b);
    }

    /** init true and "gaussian": B = 0, so the adapter is a no-op; A ~ U(±1/sqrt(in)) resp. N(0, 1/r). */
    @Test
    void defaultAndGaussianInitAreNoOps() throws Exception {
        PreTrainedModel m = Battery.model("llama-mha");
        Tensor base = logits(m);
        PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(8).loraAlpha(32).build());
        pm.addAdapter("gaussian", LoraConfig.builder().r(8).loraAlpha(32).initLoraWeights("gaussian").build());
        double sum = 0;
        double sumSq = 0;
        int n = 0;
        for (LoraLayer l : Battery.loraLayers(pm).values()) {
            LoraLinear ll = (LoraLinear) l;
            assertThat(Battery.maxAbs(ll.loraB("default").weight().data())).isZero();
            assertThat(Battery.maxAbs(ll.loraB("gaussian").weight().data())).isZero();
            double bound = 1 / Math.sqrt(ll.inFeatures());
            assertThat(Battery.maxAbs(ll.loraA("default").weight().data())).isLessThanOrEqualTo(bound)
                    .isGreaterThan(0.8 * bound);
            for (float v : ll.loraA("gaussian").weight().data().toFloatArray()) {
                sum += v;
                sumSq += v * v;
                n++;
            }
        }
        double mean = sum / n;
        double std = Math.sqrt(sumSq / n - mean * mean);
        // n = 4 layers * 8 * 32 = 1024 samples: the std estimate is within a few percent of 1/r = 0.125
        assertThat(n).isEqualTo(1024);
        assertThat(std).isCloseTo(1.0 / 8, within(0.1 / 8));
        assertThat(mean).isCloseTo(0, within(0.02));
        assertThat(diff(logits(pm), base)).isLessThan(1e-6);
        pm.setAdapter("gaussian");
        assertThat(diff(logits(pm), base)).isLessThan(1e-6);
    }

    /** use_rslora: scaling alpha / sqrt(r), and the delta is that scaling times B A. */
    @Test
    void rsloraScaling() throws Exception {
        PeftModel pm = Peft.getPeftModel(Battery.model("llama-mha"), Battery.config().useRslora(true).build());
        pm.addAdapter("plain", Battery.config().build());
        for (LoraLayer l : Battery.loraLayers(pm).values()) {
            LoraLinear ll = (LoraLinear) l;
            assertThat(ll.scaling().get("default")).isCloseTo(32 / Math.sqrt(8), within(1e-12));
            assertThat(ll.scaling().get("plain")).isCloseTo(32.0 / 8, within(1e-12));
            RealMatrix ba = m(ll.loraB("default").weight().data()).multiply(m(ll.loraA("default").weight().data()));
            assertThat(maxAbsDiff(m(ll.getDeltaWeight("default")), ba.scalarMultiply(32 / Math.sqrt(8))))
                    .isLessThan(1e-5);
        }
    }

    /**
     * "pissa" and "olora": the base weight becomes the residual {@code W - s B A}, so the adapted model starts
     * exactly at the base model (1e-4) and merging gives back W. PiSSA's {@code s B A} is the top-r SVD part of W;
     * OLoRA's B has orthonormal columns (Q of W's QR) and A is upper triangular (R's first rows).
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha:pissa", "llama-mha:olora", "gpt2:pissa", "gpt2:olora"})
    void pissaAndOloraStartAtTheBaseModel(String c) throws Exception {
        String name = c.split(":")[0];
        String init = c.split(":")[1];
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        Map<String, RealMatrix> original = new LinkedHashMap<>();
        PeftModel probe = Peft.getPeftModel(Battery.model(name), Battery.config().build());
        for (String k : probe.tuner().tunerLayers().keySet()) {
            original.put(k, m(m.getSubmodule(k).parameter("weight").data()));
        }
        PeftModel pm = Peft.getPeftModel(m, Battery.config().initLoraWeights(init).build());
        assertThat(diff(logits(pm), base)).isLessThan(1e-4);
        for (Map.Entry<String, LoraLayer> e : Battery.loraLayers(pm).entrySet()) {
            LoraLinear l = (LoraLinear) e.getValue();
            RealMatrix w = original.get(e.getKey());
            RealMatrix delta = m(l.getDeltaWeight("default"));
            RealMatrix residual = m(l.baseWeight().data());
            assertThat(maxAbsDiff(residual, w)).as("the base weight is replaced").isGreaterThan(1e-3);
            assertThat(maxAbsDiff(residual.add(delta), w)).as(e.getKey()).isLessThan(1e-5);
            if (init.equals("pissa")) {
                assertThat(maxAbsDiff(delta, LoraWeightedAdapterBatteryTest.bestRankK(w, 8))).as(e.getKey())
                        .isLessThan(1e-5);
            } else {
                RealMatrix b = m(l.loraB("default").weight().data());
                RealMatrix a = m(l.loraA("default").weight().data());
                assertThat(maxAbsDiff(b.transpose().multiply(b), MatrixUtils.createRealIdentityMatrix(8)))
                        .isLessThan(1e-5);
                for (int i = 0; i < 8; i++) {
                    for (int j = 0; j < i; j++) {
                        assertThat(Math.abs(a.getEntry(i, j))).isLessThan(1e-6);
                    }
                }
            }
        }
        PreTrainedModel merged = pm.mergeAndUnload();
        assertThat(diff(logits(merged), base)).isLessThan(1e-4);
    }

    /**
     * enable_lora (peft4j extension) on GPT-2's fused c_attn with parts q, k, v and enable_lora = [true, false,
     * true]: lora_A is [r*2, in], lora_B [out/3*2, r]; the layer's k columns are exactly the base layer's, the q and
     * v columns change by {@code x ΔW}; merging equals the unmerged forward (1e-4) and unmerging restores W.
     */
    @Test
    void fusedProjectionAdaptsOnlyEnabledParts() throws Exception {
        PreTrainedModel m = Battery.model("gpt2");
        PeftModel pm = Peft.getPeftModel(m, Battery.config().targetModules("c_attn").enableLora(true, false, true)
                .build());
        Map<String, LoraLayer> layers = Battery.loraLayers(pm);
        assertThat(layers).hasSize(2);
        LoraMergedLinear l = (LoraMergedLinear) layers.get("transformer.h.0.attn.c_attn");
        assertThat(l.inFeatures()).isEqualTo(32);
        assertThat(l.outFeatures()).isEqualTo(96);
        assertThat(l.loraA("default").weight().shape()).containsExactly(16, 32);
        assertThat(l.loraB("default").weight().shape()).containsExactly(64, 8);

        // the layer alone: y = x W + b + x ΔW with ΔW [in, out] zero in the k columns
        Random rng = new Random(1);
        float[] xs = new float[5 * 32];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rng.nextGaussian();
        }
        Tensor x = Tensor.of(xs, 5, 32);
        Graph g = new Graph();
        Value in = g.input("x", DType.F32, Dim.of("n"), Dim.of(32));
        g.output("lora", l.forward(g, in));
        g.output("base", l.baseLayer().forward(g, in));
        Map<String, Tensor> out = OrtRuntime.shared().compile(g, p -> false).run(Map.of("x", x));
        float[] y = out.get("lora").toFloatArray();
        float[] yb = out.get("base").toFloatArray();
        RealMatrix delta = m(l.getDeltaWeight("default"));
        assertThat(delta.getRowDimension()).isEqualTo(32);
        assertThat(delta.getColumnDimension()).isEqualTo(96);
        RealMatrix xd = m(x).multiply(delta);
        double[] partDiff = new double[3];
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 96; j++) {
                double d = y[i * 96 + j] - yb[i * 96 + j];
                partDiff[j / 32] = Math.max(partDiff[j / 32], Math.abs(d));
                assertThat(d).isCloseTo(xd.getEntry(i, j), within(1e-4));
                if (j / 32 == 1) {
                    assertThat(delta.getEntry(i, j)).isZero();
                }
            }
        }
        assertThat(partDiff[1]).as("k part").isZero();
        assertThat(partDiff[0]).as("q part").isGreaterThan(1e-2);
        assertThat(partDiff[2]).as("v part").isGreaterThan(1e-2);

        Tensor w0 = l.baseWeight().data().copy();
        Tensor unmerged = logits(pm);
        pm.mergeAdapter();
        assertThat(diff(logits(pm), unmerged)).isLessThan(1e-4);
        pm.unmergeAdapter();
        assertThat(diff(l.baseWeight().data(), w0)).isLessThan(1e-6);
        assertThat(pm.getPeftModelStateDict("default").get(
                "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight").shape()).containsExactly(64, 8);
    }
}
