package org.peft4j.qlora;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Times the two forward kernels of {@link Linear4bit} (ORT's MatMulBnb4 vs dequantize + Gemm) on a TinyLlama MLP
 * shape, W [5632, 2048] NF4 with double quant: a decode step x [1, 2048] (forward only), a training micro-batch
 * x [1024, 2048] forward only, and forward + input gradient. Run with {@code -Dpeft4j.bench=true}; prints medians.
 */
@EnabledIfSystemProperty(named = "peft4j.bench", matches = "true")
class Linear4bitKernelBench {
    static Linear4bit randomLayer(long in, long out) {
        Random r = new Random(1);
        long numel = in * out;
        byte[] packed = new byte[(int) Linear4bit.packedLength(numel)];
        r.nextBytes(packed);
        long nb = (numel + 63) / 64;
        byte[] q = new byte[(int) nb];
        r.nextBytes(q);
        long nb2 = (nb + 255) / 256;
        float[] nested = new float[(int) nb2];
        Arrays.fill(nested, 0.01f);
        float[] code2 = new float[256];
        for (int i = 0; i < 256; i++) {
            code2[i] = (i - 127.5f) / 128f;
        }
        QuantState st = new QuantState(QuantType.NF4, 64, new long[] {out, in}, DType.F32, u8(q, nb),
                Tensor.of(Codes4bit.table(QuantType.NF4), 16), new QuantState.Nested(0.05f, Tensor.of(nested, nb2),
                        Tensor.of(code2, 256), 256));
        Linear4bit l = new Linear4bit(in, out, false, QuantType.NF4, 64, true, DType.F32, DType.F32);
        l.setQuantized(u8(packed, packed.length), st);
        return l;
    }

    static Tensor u8(byte[] b, long... shape) {
        Tensor t = Tensor.zeros(DType.U8, shape);
        t.write(buf -> buf.put(0, b));
        return t;
    }

    double time(Linear4bit l, Linear4bit.Kernel k, long m, boolean backward, int reps) {
        Linear4bit.Kernel.forced = k;
        try {
            Graph g = new Graph();
            Value x = g.input("x", DType.F32, Dim.of("m"), Dim.of(l.inFeatures()));
            Value y = l.forward(g, x);
            if (backward) {
                Value loss = g.reduceSum(y, false, 0, 1);
                g.output("dx", Autodiff.gradients(g, loss, List.of(x)).gradient(x));
            } else {
                g.output("y", y);
            }
            float[] xs = new float[(int) (m * l.inFeatures())];
            Random r = new Random(2);
            for (int i = 0; i < xs.length; i++) {
                xs[i] = (float) r.nextGaussian();
            }
            Tensor xt = Tensor.of(xs, m, l.inFeatures());
            List<Double> ms = new ArrayList<>();
            try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> false)) {
                cg.run(Map.of("x", xt));
                for (int i = 0; i < reps; i++) {
                    long t0 = System.nanoTime();
                    cg.run(Map.of("x", xt));
                    ms.add((System.nanoTime() - t0) / 1e6);
                }
            }
            ms.sort(Double::compare);
            return ms.get(ms.size() / 2);
        } finally {
            Linear4bit.Kernel.forced = null;
        }
    }

    @Test
    void kernels() {
        Linear4bit l = randomLayer(2048, 5632);
        String[] names = {"decode [1,2048] fwd", "train [1024,2048] fwd", "train [1024,2048] fwd+dx"};
        long[] ms = {1, 1024, 1024};
        boolean[] bw = {false, false, true};
        int[] reps = {30, 5, 5};
        Linear4bit.Kernel[] ks = Linear4bit.Kernel.values();
        double[][] best = new double[names.length][ks.length];
        for (double[] b : best) {
            Arrays.fill(b, Double.MAX_VALUE);
        }
        for (int round = 0; round < 3; round++) {
            for (int c = 0; c < names.length; c++) {
                for (int k = 0; k < ks.length; k++) {
                    best[c][k] = Math.min(best[c][k], time(l, ks[k], ms[c], bw[c], reps[c]));
                }
            }
        }
        for (int c = 0; c < names.length; c++) {
            for (int k = 0; k < ks.length; k++) {
                System.out.printf("BENCH %-12s %-26s %8.2f ms (best of 3 medians)%n", ks[k], names[c], best[c][k]);
            }
        }
    }
}
