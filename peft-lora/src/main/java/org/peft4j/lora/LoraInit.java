package org.peft4j.lora;

import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.peft4j.graph.Parameter;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoRA weight initialisation ({@code reset_lora_parameters}, {@code pissa_init}, {@code olora_init}).
 *
 * <ul>
 *   <li>{@code true}: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5)), B = 0: a no-op adapter;
 *   <li>{@code false}: A and B both as {@code nn.Linear}'s default (not a no-op; for tests);
 *   <li>{@code "gaussian"}: A ~ N(0, 1/r), B = 0;
 *   <li>{@code "pissa"}: A, B from the top-r singular triplets of W (each side sqrt(S)/sqrt(scaling)), and W replaced
 *       by its residual {@code W - s B A};
 *   <li>{@code "olora"}: B, A = the first r columns of Q and rows of R of W's QR decomposition, W replaced by
 *       {@code W - s B A};
 *   <li>any other name: the {@link LoraWeightInitializer} registered for it (e.g. {@code "loftq"} from peft-qlora).
 * </ul>
 * PiSSA and OLoRA read the base layer's dense weight and write the residual back through its {@link LinearLike}
 * contract. The SVD and QR run in Apache Commons Math in double precision: fine for the layer sizes of small models, slow
 * (cubic) for 4096-wide layers.
 */
final class LoraInit {
    private LoraInit() {
    }

    static void linear(LoraLinear layer, String name, Linear a, Linear b, LoraAdapterSpec spec) {
        Object init = spec.init();
        Random rng = spec.rng();
        int r = layer.r.get(name);
        long in = layer.inFeatures();
        long out = layer.outFeatures();
        if (Boolean.TRUE.equals(init)) {
            a.weight().setData(uniform(rng, 1 / Math.sqrt(in), r, in));
            b.weight().setData(Tensor.zeros(DType.F32, out, r));
            if (b.bias() != null) {
                b.bias().setData(Tensor.zeros(DType.F32, out));
            }
        } else if (Boolean.FALSE.equals(init)) {
            a.weight().setData(uniform(rng, 1 / Math.sqrt(in), r, in));
            b.weight().setData(uniform(rng, 1 / Math.sqrt(r), out, r));
            if (b.bias() != null) {
                b.bias().setData(uniform(rng, 1 / Math.sqrt(r), out));
            }
        } else if ("gaussian".equals(init)) {
            a.weight().setData(normal(rng, 1.0 / r, r, in));
            b.weight().setData(Tensor.zeros(DType.F32, out, r));
            if (b.bias() != null) {
                b.bias().setData(Tensor.zeros(DType.F32, out));
            }
        } else if ("pissa".equals(init) || "olora".equals(init)) {
            decompose(layer, name, a, b, "pissa".equals(init));
        } else if (init instanceof String && initializer((String) init) != null) {
            LinearLike base = layer.linearBase();
            if (!base.hasWeightData()) {
                throw new IllegalStateException("init_lora_weights=" + init
                        + " needs the base weights; the model was built shape-only");
            }
            initializer((String) init).initialize(base, a, b, spec, layer.scaling.get(name));
            if (b.bias() != null) {
                b.bias().setData(Tensor.zeros(DType.F32, out));
            }
        } else if (LoraConfig.LOFTQ.equals(init)) {
            throw new IllegalStateException("init_lora_weights=loftq needs the peft-qlora module on the class path");
        } else {
            throw new IllegalArgumentException("Unknown initialization init_lora_weights=" + init);
        }
    }

    /** The initialiser registered for {@code name} through {@link java.util.ServiceLoader}, or null. */
    static LoraWeightInitializer initializer(String name) {
        for (LoraWeightInitializer i : java.util.ServiceLoader.load(LoraWeightInitializer.class,
                LoraInit.class.getClassLoader())) {
            if (i.name().equals(name)) {
                return i;
            }
        }
        return null;
    }

    private static void decompose(LoraLinear layer, String name, Linear a, Linear b, boolean pissa) {
        LinearLike base = layer.linearBase();
        if (!base.hasWeightData()) {
            throw new IllegalStateException("init_lora_weights=" + (pissa ? "pissa" : "olora")
                    + " needs the base weights; the model was built shape-only");
        }
        int r = layer.r.get(name);
        double s = layer.scaling.get(name);
        int out = (int) layer.outFeatures();
        int in = (int) layer.inFeatures();
        RealMatrix w = toMatrix(base.denseWeight(), out, in, false);
        if (r > Math.min(out, in)) {
            throw new IllegalArgumentException("r=" + r + " exceeds the rank bound " + Math.min(out, in)
                    + " of the weight for " + (pissa ? "pissa" : "olora"));
        }
        RealMatrix am;
        RealMatrix bm;
        if (pissa) {
            SingularValueDecomposition svd = new SingularValueDecomposition(w);
            double[] sv = svd.getSingularValues();
            RealMatrix u = svd.getU();
            RealMatrix vt = svd.getVT();
            am = new Array2DRowRealMatrix(r, in);
            bm = new Array2DRowRealMatrix(out, r);
            for (int k = 0; k < r; k++) {
                double root = Math.sqrt(sv[k] / s);
                for (int j = 0; j < in; j++) {
                    am.setEntry(k, j, root * vt.getEntry(k, j));
                }
                for (int i = 0; i < out; i++) {
                    bm.setEntry(i, k, u.getEntry(i, k) * root);
                }
            }
        } else {
            QRDecomposition qr = new QRDecomposition(w);
            RealMatrix q = qr.getQ();
            RealMatrix rr = qr.getR();
            bm = q.getSubMatrix(0, out - 1, 0, r - 1);
            am = rr.getSubMatrix(0, r - 1, 0, in - 1);
        }
        RealMatrix residual = w.subtract(bm.multiply(am).scalarMultiply(s));
        a.weight().setData(fromMatrix(am, false).to(DType.F32));
        b.weight().setData(fromMatrix(bm, false).to(DType.F32));
        if (b.bias() != null) {
            b.bias().setData(Tensor.zeros(DType.F32, layer.outFeatures()));
        }
        base.setDenseWeight(fromMatrix(residual, false));
    }

    private static RealMatrix toMatrix(Tensor t, int out, int in, boolean transposed) {
        double[] d = t.toDoubleArray();
        double[][] m = new double[out][in];
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < in; j++) {
                m[i][j] = transposed ? d[j * out + i] : d[i * in + j];
            }
        }
        return new Array2DRowRealMatrix(m, false);
    }

    private static Tensor fromMatrix(RealMatrix m, boolean transposed) {
        int rows = m.getRowDimension();
        int cols = m.getColumnDimension();
        double[] d = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                if (transposed) {
                    d[j * rows + i] = m.getEntry(i, j);
                } else {
                    d[i * cols + j] = m.getEntry(i, j);
                }
            }
        }
        return transposed ? Tensor.of(d, cols, rows) : Tensor.of(d, rows, cols);
    }

    static void embedding(LoraEmbedding layer, String name, Object init, Random rng) {
        int r = layer.r.get(name);
        long num = layer.numEmbeddings();
        long dim = layer.embeddingDim();
        Parameter a = layer.loraEmbeddingA().get(name);
        Parameter b = layer.loraEmbeddingB().get(name);
        if (Boolean.FALSE.equals(init)) {
            a.setData(normal(rng, 1.0, r, num));
        } else {
            a.setData(Tensor.zeros(DType.F32, r, num));
        }
        b.setData(normal(rng, 1.0, dim, r));
    }

    static Tensor uniform(Random rng, double bound, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        return Tensor.of(v, shape);
    }

    static Tensor normal(Random rng, double std, long... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rng.nextGaussian() * std);
        }
        return Tensor.of(v, shape);
    }
}
