package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/**
 * Dropout with probability {@code p}: the identity in inference graphs; in training graphs
 * {@code y = x * keep / (1 - p)} with a <b>counter-based</b> mask computed in the graph from integer ops only.
 *
 * <p>The mask does not come from a random generator held by the ONNX Runtime session (as ONNX {@code Dropout}'s
 * does), but from a hash of (seed, salt, element index): the seed is the graph's int64 scalar input
 * {@value Graph#DROPOUT_SEED} ({@link Graph#dropoutSeed()}), the salt is a per-site counter
 * ({@link Graph#nextDropoutSalt()}), the index is the element's row-major position in {@code x}. So the same seed
 * gives the same masks, which makes a resumed run retrace an uninterrupted one.
 *
 * <p>The hash, all in int64 with every intermediate below 2<sup>63</sup> (M = 2<sup>31</sup>,
 * A = {@value #A}, B = {@value #B}, {@code /} floor division of non-negative values, {@code %} with the sign of
 * the divisor):
 * <pre>
 * mix(y, z) = x3 where x1 = (y*y/2^16 + y) % M, x2 = (x1*x1/2^16 + z) % M, x3 = (x2*x2/2^16 + y) % M
 * lo = seed % M;  hi = (seed / M) % M          (seed / M truncates towards zero)
 * s  = (salt*B + {@value #C0}) % M
 * k0 = mix((lo*A + {@value #C1}) % M, hi + s)
 * k1 = mix((k0*A + s) % M, lo + {@value #C2})
 * y  = (i*A + k0) % M;  h = mix(y, y + k1)
 * keep = h &gt;= ceil(p * M)
 * </pre>
 * {@code h / M} is uniform on [0, 1), so {@code keep} is {@code u >= p} compared exactly in integers. The squares
 * make the hash non-linear (affine steps modulo 2<sup>31</sup> alone would give a Weyl sequence whose neighbouring
 * elements are correlated). Bit operations are avoided on purpose: ONNX Runtime has no CUDA kernel for
 * {@code BitShift}, {@code BitwiseAnd} or {@code BitwiseXor}, while {@code Mul}, {@code Add}, {@code Div},
 * {@code Mod}, {@code Less}, {@code Range}, {@code Size}, {@code Shape}, {@code Reshape} and {@code Where} all have
 * one. The index enters modulo 2<sup>31</sup>: a single tensor of more than 2<sup>31</sup> elements repeats its
 * mask with that period.
 *
 * <p>The mask depends on nothing differentiable, so autodiff sees one {@code Mul} by a constant and the gradient is
 * {@code dy * keep / (1 - p)}.
 */
public class Dropout extends Layer {
    /** The hash's odd multiplier. */
    public static final long A = 0x5851f42dL;
    /** The salt's multiplier. */
    public static final long B = 0x2545f491L;
    /** Offset of the salt term. */
    public static final long C0 = 0x3c6ef372L;
    /** Offset of the seed's low part. */
    public static final long C1 = 0x6a09e667L;
    /** Offset of the second key. */
    public static final long C2 = 0x1f83d9abL;
    /** The modulus 2<sup>31</sup>. */
    public static final long M = 1L << 31;

    private final double p;

    /** Dropout with probability {@code p} in [0, 1). */
    public Dropout(double p) {
        checkP(p);
        this.p = p;
    }

    /** The probability of zeroing an element. */
    public double p() {
        return p;
    }

    @Override
    public Value forward(Graph g, Value x) {
        if (!g.isTraining() || p == 0) {
            return x;
        }
        return apply(g, x, p);
    }

    /**
     * Emits {@code x * keep / (1 - p)} with the counter-based mask of a new site of {@code g} (declaring the seed
     * input on first use), whether or not the graph is in training mode.
     */
    public static Value apply(Graph g, Value x, double p) {
        checkP(p);
        if (!x.dtype().isFloating()) {
            throw new IllegalArgumentException("dropout needs a floating input, got " + x);
        }
        Value drop = g.less(hash(g, x, g.dropoutSeed(), g.nextDropoutSalt()), g.intScalar(threshold(p)));
        Value scale = g.where(drop, g.scalar(0, x.dtype()), g.scalar(1 / (1 - p), x.dtype()));
        return g.mul(x, scale);
    }

    /** The integer threshold of the hash below which an element is dropped: {@code ceil(p * 2^31)}. */
    public static long threshold(double p) {
        return (long) Math.ceil(p * M);
    }

    /** The int64 hash {@code h} in [0, 2<sup>31</sup>) of every element of {@code x} (same shape as {@code x}). */
    static Value hash(Graph g, Value x, Value seed, long salt) {
        Value m = g.intScalar(M);
        Value lo = g.mod(seed, m);
        Value hi = g.mod(g.div(seed, m), m);
        long s = Math.floorMod(salt * B + C0, M);
        Value k0 = mix(g, g.mod(g.add(g.mul(lo, g.intScalar(A)), g.intScalar(C1)), m), g.add(hi, g.intScalar(s)));
        Value k1 = mix(g, g.mod(g.add(g.mul(k0, g.intScalar(A)), g.intScalar(s)), m), g.add(lo, g.intScalar(C2)));
        Value flat = g.range(g.intScalar(0), g.size(x), g.intScalar(1));
        Value index = g.reshape(flat, g.shapeOf(x, 0, x.rank()), x.shape());
        Value y = g.mod(g.add(g.mul(index, g.intScalar(A)), k0), m);
        return mix(g, y, g.add(y, k1));
    }

    /** Three rounds of {@code x = (x*x/2^16 + w) % M} with w = y, z, y; inputs below 2^31 and 2^32. */
    private static Value mix(Graph g, Value y, Value z) {
        Value x = y;
        Value[] addends = {y, z, y};
        for (Value w : addends) {
            x = g.mod(g.add(g.div(g.mul(x, x), g.intScalar(1L << 16)), w), g.intScalar(M));
        }
        return x;
    }

    private static void checkP(double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability has to be in [0, 1), but got " + p);
        }
    }

    @Override
    public String toString() {
        return "Dropout(p=" + p + ")";
    }
}
