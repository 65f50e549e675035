package org.peft4j.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.peft4j.qlora.Bnb4bit;
import org.peft4j.qlora.Packed4bit;
import org.peft4j.qlora.QuantType;
import org.peft4j.tensor.Tensor;

/**
 * Throughput of {@link Bnb4bit} NF4 quantization (blocksize 64, with and without double quantization) and
 * dequantization to float32, in GB/s of float32 weight bytes ({@code numel * 4}), next to a plain copy of the same
 * bytes ({@link Tensor#copy}, a new direct buffer and a bulk copy) as the memory-bandwidth yardstick. Matrices
 * 4096x4096 and 2048x5632 (Llama-7B-like attention and MLP shapes), Gaussian weights. Each round times every
 * operation once, in a rotating order; the median over rounds is reported, after warm-up rounds.
 *
 * <p>Usage (from the repository root): {@code benchmarks/run-paired.sh QuantizeBench [--rounds 7] [--warmup 3]}.
 * Uses the common fork-join pool (set {@code -Djava.util.concurrent.ForkJoinPool.common.parallelism} to change it).
 */
public final class QuantizeBench {
    private QuantizeBench() {
    }

    public static void main(String[] args) {
        int rounds = 7;
        int warmup = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds": rounds = Integer.parseInt(args[++i]); break;
                case "--warmup": warmup = Integer.parseInt(args[++i]); break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        System.out.printf(Locale.ROOT, "cores %d, common pool parallelism %d, java %s%n",
                Runtime.getRuntime().availableProcessors(),
                java.util.concurrent.ForkJoinPool.commonPool().getParallelism(), System.getProperty("java.version"));
        for (int[] shape : new int[][] {{4096, 4096}, {2048, 5632}}) {
            bench(shape[0], shape[1], rounds, warmup);
        }
    }

    private static void bench(int rows, int cols, int rounds, int warmup) {
        int n = rows * cols;
        float[] w = new float[n];
        Random r = new Random(42);
        for (int i = 0; i < n; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        Tensor t = Tensor.of(w, rows, cols);
        Packed4bit plain = Bnb4bit.quantize("w", t, QuantType.NF4, 64, false);
        Packed4bit dq = Bnb4bit.quantize("w", t, QuantType.NF4, 64, true);
        String[] names = {"copy f32", "quantize nf4", "quantize nf4+dq", "dequantize f32", "dequantize f32 (dq)"};
        Runnable[] ops = {
            () -> sink(t.copy()),
            () -> sink(Bnb4bit.quantize("w", t, QuantType.NF4, 64, false).packed()),
            () -> sink(Bnb4bit.quantize("w", t, QuantType.NF4, 64, true).packed()),
            () -> sink(Bnb4bit.dequantizeF32(plain.packed(), plain.state())),
            () -> sink(Bnb4bit.dequantizeF32(dq.packed(), dq.state())),
        };
        double[][] times = new double[ops.length][rounds];
        for (int round = -warmup; round < rounds; round++) {
            System.gc();
            for (int k = 0; k < ops.length; k++) {
                int op = (k + Math.max(round, 0)) % ops.length;
                long t0 = System.nanoTime();
                ops[op].run();
                long dt = System.nanoTime() - t0;
                if (round >= 0) {
                    times[op][round] = dt / 1e9;
                }
            }
        }
        double gb = n * 4.0 / 1e9;
        System.out.printf(Locale.ROOT, "%dx%d (%.1f MB float32):%n", rows, cols, gb * 1e3);
        for (int op = 0; op < ops.length; op++) {
            double[] s = times[op].clone();
            Arrays.sort(s);
            double med = s[s.length / 2];
            System.out.printf(Locale.ROOT, "  %-22s median %8.2f ms  %6.2f GB/s  (min %.2f ms, max %.2f ms)%n",
                    names[op], med * 1e3, gb / med, s[0] * 1e3, s[s.length - 1] * 1e3);
        }
    }

    private static volatile Object blackhole;

    private static void sink(Object o) {
        blackhole = o;
    }
}
