package org.peft4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * The counter-based dropout mask: the ONNX graph against a Java implementation of the hash as documented, and
 * statistics that a broken hash would fail (keep fraction, correlation of neighbours, of seeds and of sites).
 */
class DropoutTest {
    private static final long M = 1L << 31;

    // ---------------------------------------------------------------- reference, written from Dropout's Javadoc

    private static long mix(long y, long z) {
        long x = Math.floorMod(y * y / 65536 + y, M);
        x = Math.floorMod(x * x / 65536 + z, M);
        return Math.floorMod(x * x / 65536 + y, M);
    }

    /** The reference mask (true = kept) of {@code n} elements. */
    static boolean[] referenceMask(long seed, long salt, int n, double p) {
        long lo = Math.floorMod(seed, M);
        long hi = Math.floorMod(seed / M, M);
        long s = Math.floorMod(salt * 0x2545f491L + 0x3c6ef372L, M);
        long k0 = mix(Math.floorMod(lo * 0x5851f42dL + 0x6a09e667L, M), hi + s);
        long k1 = mix(Math.floorMod(k0 * 0x5851f42dL + s, M), lo + 0x1f83d9abL);
        long threshold = (long) Math.ceil(p * M);
        boolean[] keep = new boolean[n];
        for (int i = 0; i < n; i++) {
            long y = Math.floorMod(i * 0x5851f42dL + k0, M);
            keep[i] = mix(y, y + k1) >= threshold;
        }
        return keep;
    }

    // ---------------------------------------------------------------- running the graph

    /** Runs {@code sites} dropout sites (each on the same input x) in one graph; returns each site's output. */
    private static float[][] run(float[] x, long[] shape, double p, long seed, int sites) {
        Graph g = new Graph().setTraining(true);
        Dim[] dims = new Dim[shape.length];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = Dim.of("d" + i);
        }
        Value in = g.input("x", DType.F32, dims);
        for (int s = 0; s < sites; s++) {
            g.output("y" + s, new Dropout(p).forward(g, in));
        }
        assertThat(g.hasDropoutSeed()).isTrue();
        CompiledGraph cg = OrtRuntime.shared().compile(g, q -> false);
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("x", Tensor.of(x, shape));
        feed.put(Graph.DROPOUT_SEED, Tensor.of(new long[] {seed}));
        Map<String, Tensor> out = cg.run(feed);
        float[][] ys = new float[sites][];
        for (int s = 0; s < sites; s++) {
            assertThat(out.get("y" + s).shape()).containsExactly(shape);
            ys[s] = out.get("y" + s).toFloatArray();
        }
        return ys;
    }

    private static boolean[] mask(float[] y) {
        boolean[] keep = new boolean[y.length];
        for (int i = 0; i < y.length; i++) {
            keep[i] = y[i] != 0;
        }
        return keep;
    }

    private static float[] ones(int n) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, 1f);
        return x;
    }

    private static double keptFraction(boolean[] keep) {
        int k = 0;
        for (boolean b : keep) {
            k += b ? 1 : 0;
        }
        return k / (double) keep.length;
    }

    private static double agreement(boolean[] a, boolean[] b) {
        int same = 0;
        for (int i = 0; i < a.length; i++) {
            same += a[i] == b[i] ? 1 : 0;
        }
        return same / (double) a.length;
    }

    // ---------------------------------------------------------------- tests

    @Test
    void graphMatchesTheDocumentedHashAndScalesKeptElements() {
        long[] shape = {3, 5, 7};
        int n = 105;
        float[] x = new float[n];
        Random r = new Random(5);
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        double p = 0.3;
        float scale = (float) (1 / (1 - p));
        // small, large (hi part), negative and extreme seeds: exercises Mod/Div on every sign and the int64 range
        for (long seed : new long[] {0, 1, 42, -7, (1L << 40) + 3, Long.MAX_VALUE, Long.MIN_VALUE}) {
            float[][] y = run(x, shape, p, seed, 2);
            for (int site = 0; site < 2; site++) {
                boolean[] ref = referenceMask(seed, site, n, p);
                for (int i = 0; i < n; i++) {
                    assertThat(y[site][i]).as("seed %d site %d element %d", seed, site, i)
                            .isEqualTo(ref[i] ? x[i] * scale : 0f);
                }
            }
        }
    }

    @Test
    void keptFractionIsOneMinusPOnALargeTensor() {
        int rows = 100;
        int cols = 1000;
        for (double p : new double[] {0.1, 0.5}) {
            boolean[] keep = mask(run(ones(rows * cols), new long[] {rows, cols}, p, 2024, 1)[0]);
            // standard deviation sqrt(p(1-p)/n) <= 0.0016: a biased hash misses this by far
            assertThat(keptFraction(keep)).as("p=%s", p).isCloseTo(1 - p, within(0.005));
        }
    }

    @Test
    void neighbouringElementsAreUncorrelated() {
        int rows = 100;
        int cols = 1000;
        double p = 0.1;
        boolean[] keep = mask(run(ones(rows * cols), new long[] {rows, cols}, p, 99, 1)[0]);
        double independent = p * p + (1 - p) * (1 - p);
        int sameRow = 0;
        int sameCol = 0;
        for (int i = 1; i < keep.length; i++) {
            sameRow += keep[i] == keep[i - 1] ? 1 : 0;
        }
        for (int i = cols; i < keep.length; i++) {
            sameCol += keep[i] == keep[i - cols] ? 1 : 0;
        }
        // an affine (Weyl) hash gives ~0.80 for the first pair; independent bits 0.82 +- 0.0016
        assertThat(sameRow / (double) (keep.length - 1)).isCloseTo(independent, within(0.005));
        assertThat(sameCol / (double) (keep.length - cols)).isCloseTo(independent, within(0.005));
        // runs of dropped elements are geometric: P(next dropped | dropped) = p
        int dropped = 0;
        int droppedTwice = 0;
        for (int i = 1; i < keep.length; i++) {
            if (!keep[i - 1]) {
                dropped++;
                droppedTwice += keep[i] ? 0 : 1;
            }
        }
        assertThat(droppedTwice / (double) dropped).isCloseTo(p, within(0.01));
    }

    @Test
    void theSeedDeterminesTheMask() {
        int n = 50_000;
        double p = 0.1;
        boolean[] a = mask(run(ones(n), new long[] {n}, p, 7, 1)[0]);
        boolean[] again = mask(run(ones(n), new long[] {n}, p, 7, 1)[0]);
        boolean[] next = mask(run(ones(n), new long[] {n}, p, 8, 1)[0]);
        boolean[] far = mask(run(ones(n), new long[] {n}, p, 7 + (1L << 31), 1)[0]);
        assertThat(again).isEqualTo(a);
        // other seeds: as independent as two random masks (agreement p^2 + (1-p)^2), not merely "different"
        double independent = p * p + (1 - p) * (1 - p);
        assertThat(agreement(a, next)).isCloseTo(independent, within(0.01));
        assertThat(agreement(a, far)).isCloseTo(independent, within(0.01));
    }

    @Test
    void twoSitesOfOneGraphDrawDifferentMasks() {
        int n = 50_000;
        double p = 0.1;
        float[][] y = run(ones(n), new long[] {n}, p, 31337, 2);
        assertThat(agreement(mask(y[0]), mask(y[1]))).isCloseTo(p * p + (1 - p) * (1 - p), within(0.01));
    }

    @Test
    void inferenceGraphsAndZeroProbabilityAreTheIdentity() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(3));
        assertThat(new Dropout(0.5).forward(g, x)).isSameAs(x);
        Graph t = new Graph().setTraining(true);
        Value tx = t.input("x", DType.F32, Dim.of(3));
        assertThat(new Dropout(0).forward(t, tx)).isSameAs(tx);
        assertThat(g.hasDropoutSeed()).isFalse();
        assertThat(t.hasDropoutSeed()).isFalse();
        assertThat(t.nodes()).isEmpty();
    }

    @Test
    void everySiteTakesTheNextSaltAndSharesTheSeed() {
        Graph g = new Graph().setTraining(true);
        Value x = g.input("x", DType.F32, Dim.of(3));
        new Dropout(0.1).forward(g, x);
        Value seed = g.dropoutSeed();
        new Dropout(0.1).forward(g, x);
        assertThat(g.dropoutSeed()).isSameAs(seed);
        assertThat(g.inputs()).filteredOn(v -> v.name().equals(Graph.DROPOUT_SEED)).hasSize(1);
        assertThat(g.nextDropoutSalt()).isEqualTo(2);
    }
}
