package org.peft4j.qlora;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.autodiff.OpDef;
import org.peft4j.autodiff.Ops;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.graph.ValueType;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * The ONNX subgraphs of 4-bit weights: dequantization in standard ops, de-nesting of double-quantized absmax, and
 * ONNX Runtime's {@code com.microsoft:MatMulBnb4}, whose definition (shape inference, a gradient that dequantizes the
 * weight in standard ops, the CUDA flag) is registered in {@link Ops} when this class initializes.
 *
 * <p>Dequantization avoids BitShift / BitwiseAnd (no CUDA kernels in ONNX Runtime): each packed byte is cast to int32
 * and gathers one row of a constant [256, 2] table holding the values of its high and low nibble, so unpacking and
 * the code lookup are a single Gather. Then {@code Mul} by the per-block absmax, exactly as bitsandbytes'
 * {@code dequantize_4bit} (float32 products).
 */
final class Bnb4Graphs {
    /** {@code com.microsoft:MatMulBnb4}: {@code Y = A . dequant(B)^T}; only input 0 gets a gradient. */
    static final OpDef MATMUL_BNB4 = Ops.register(OpDef.builder(Graph.MS_DOMAIN, "MatMulBnb4")
            .shapes((in, attrs) -> List.of(new ValueType(in.get(0).dtype(), in.get(0).shape().with(-1, Dim.of(
                    (Long) attrs.get("N"))))))
            .gradient(Bnb4Graphs::matmulBnb4Gradient)
            .cudaKernel(true)
            .build());

    private Bnb4Graphs() {
    }

    private static Value matmulBnb4Gradient(org.peft4j.autodiff.GradientContext c, Node n, List<Value> dOut,
            int input) {
        if (input != 0) {
            return null;
        }
        Graph g = c.graph();
        long k = n.attrLong("K", -1);
        long nn = n.attrLong("N", -1);
        long bs = n.attrLong("block_size", -1);
        QuantType qt = n.attrLong("quant_type", 1) == 1 ? QuantType.NF4 : QuantType.FP4;
        if (n.attrLong("transB", 1) != 1) {
            throw new IllegalStateException("MatMulBnb4 with transB=0 has no gradient rule here");
        }
        Value dy = dOut.get(0);
        Value w = dequantize(g, n.input(1), n.input(2), Codes4bit.table(qt), (int) bs, new long[] {nn, k}, dy);
        w = g.cast(w, dy.dtype());
        return g.matmul(dy, w);
    }

    /**
     * The dequantized weight, float32 with {@code shape}: {@code code[nibble(i)] * absmax[i / blocksize]} for the
     * first {@code numel(shape)} codes of {@code packed} (uint8, any shape holding {@code ceil(numel / 2)} bytes).
     *
     * @param absmax float32 [nblocks]
     */
    static Value dequantize(Graph g, Value packed, Value absmax, float[] code, int blocksize, long[] shape) {
        return dequantize(g, packed, absmax, code, blocksize, shape, null);
    }

    /**
     * As {@link #dequantize(Graph, Value, Value, float[], int, long[])}, but not before {@code after} is computed:
     * the unpacking reads a shape derived from {@code after} ({@code Size(after) * 0 + nbytes}). Without such a
     * dependency the subgraph depends on initializers only, and ONNX Runtime may run it (and every other layer's) at
     * the start of the graph, holding all float32 weights at once; with it, each weight is dequantized when its
     * consumer is ready and freed after use.
     *
     * @param after a value the dequantization must wait for, or null
     */
    static Value dequantize(Graph g, Value packed, Value absmax, float[] code, int blocksize, long[] shape,
            Value after) {
        long numel = Tensor.numel(shape);
        long nbytes = (numel + 1) / 2;
        long nblocks = (numel + blocksize - 1) / blocksize;
        Value idx = g.cast(flatAfter(g, packed, nbytes, after), DType.I32);
        Value table = g.constant(Tensor.of(Codes4bit.pairTable(code), 256, 2));
        Value vals = g.reshape(g.gather(table, idx, 0), 2 * nbytes);
        long padded = nblocks * blocksize;
        if (padded > 2 * nbytes) {
            vals = g.concat(0, vals, g.constant(Tensor.zeros(DType.F32, padded - 2 * nbytes)));
        }
        Value blocks = g.mul(g.reshape(vals, nblocks, blocksize), g.reshape(absmax, nblocks, 1));
        Value flat = g.reshape(blocks, padded);
        if (padded > numel) {
            flat = g.slice(flat, new long[] {0}, new long[] {numel}, new long[] {0});
        }
        return g.reshape(flat, shape);
    }

    /**
     * {@code x} reshaped to [n]; with {@code after}, to a shape computed from it ({@code Shape(after)[0:1] * 0 + n}:
     * {@code Shape} rather than {@code Size}, which has no CPU kernel for float16 / bfloat16 inputs).
     */
    private static Value flatAfter(Graph g, Value x, long n, Value after) {
        if (after == null) {
            return g.reshape(x, n);
        }
        Value target = g.add(g.mul(g.shapeOf(after, 0, 1), g.ints(0)), g.ints(n));
        return g.reshape(x, target, Shape.of(Dim.of(n)));
    }

    /**
     * The float32 absmax of a double-quantized state, de-nested in the graph as bitsandbytes does:
     * {@code f32(code2[q[b]] * nested_absmax[b / 256]) + offset}.
     *
     * @param q uint8 [nblocks]
     * @param nestedAbsmax float32 [ceil(nblocks / nestedBlocksize)]
     * @param code2 float32 [256], the dynamic map
     * @param after a value the de-nesting must wait for (see {@link #dequantize(Graph, Value, Value, float[], int,
     *     long[], Value)}), or null
     */
    static Value denest(Graph g, Value q, Value nestedAbsmax, Value code2, float offset, int nestedBlocksize,
            long nblocks, Value after) {
        long nb2 = (nblocks + nestedBlocksize - 1) / nestedBlocksize;
        long padded = nb2 * nestedBlocksize;
        Value vals = g.gather(code2, g.cast(flatAfter(g, q, nblocks, after), DType.I32), 0);
        if (padded > nblocks) {
            vals = g.concat(0, vals, g.constant(Tensor.zeros(DType.F32, padded - nblocks)));
        }
        Value scaled = g.reshape(g.mul(g.reshape(vals, nb2, nestedBlocksize), g.reshape(nestedAbsmax, nb2, 1)),
                padded);
        if (padded > nblocks) {
            scaled = g.slice(scaled, new long[] {0}, new long[] {nblocks}, new long[] {0});
        }
        return g.add(scaled, g.scalar(offset, DType.F32));
    }

    /**
     * {@code x . dequant(B)^T} with ONNX Runtime's {@code MatMulBnb4} (x float32 [..., K]; the CPU kernel takes
     * float32 only).
     */
    static Value matmulBnb4(Graph g, Value x, Value packed, Value absmax, QuantType qt, int blocksize, long n,
            long k) {
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("K", k);
        attrs.put("N", n);
        attrs.put("block_size", (long) blocksize);
        attrs.put("quant_type", qt == QuantType.NF4 ? 1L : 0L);
        Value b = g.reshape(packed, (n * k + 1) / 2);
        return g.node(MATMUL_BNB4.opType(), MATMUL_BNB4.domain(), List.of(x, b, absmax), attrs).output(0);
    }
}
