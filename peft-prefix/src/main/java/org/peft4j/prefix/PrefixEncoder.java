package org.peft4j.prefix;

import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * PEFT's {@code PrefixEncoder}, in float32 as PEFT creates it. With {@code prefix_projection} (and not in inference
 * mode): {@code embedding} [num_virtual_tokens, token_dim], then {@code transform} = Linear(token_dim,
 * encoder_hidden_size), Tanh, Linear(encoder_hidden_size, num_layers*2*token_dim) (parameters
 * {@code transform.0.*}, {@code transform.2.*}). Otherwise a plain {@code embedding} [num_virtual_tokens,
 * num_layers*2*token_dim]. Initialised as torch does: embeddings N(0, 1), Linear weights and biases
 * U(-1/sqrt(in), 1/sqrt(in)); {@code init_weights="zero"} zeroes the embedding (no projection) or the last Linear.
 */
public final class PrefixEncoder extends Module {
    private final boolean projection;
    private final int numVirtualTokens;
    private final int outDim;

    PrefixEncoder(PrefixTuningConfig c, Random rng) {
        this.projection = c.prefixProjection() && !c.inferenceMode();
        this.numVirtualTokens = c.numVirtualTokens();
        this.outDim = c.numLayers() * 2 * c.tokenDim();
        boolean zero = "zero".equals(c.initWeights());
        if (projection) {
            Embedding e = registerModule("embedding", new Embedding(numVirtualTokens, c.tokenDim(), DType.F32));
            e.weight().setData(normal(rng, numVirtualTokens, c.tokenDim()));
            ModuleList t = registerModule("transform", new ModuleList());
            Linear first = t.add(new Linear(c.tokenDim(), c.encoderHiddenSize(), true, DType.F32));
            t.add(new Tanh());
            Linear last = t.add(new Linear(c.encoderHiddenSize(), outDim, true, DType.F32));
            initLinear(first, rng, false);
            initLinear(last, rng, zero);
        } else {
            Embedding e = registerModule("embedding", new Embedding(numVirtualTokens, outDim, DType.F32));
            e.weight().setData(zero ? Tensor.zeros(DType.F32, numVirtualTokens, outDim)
                    : normal(rng, numVirtualTokens, outDim));
        }
    }

    /** Whether the prefix goes through the projection (prefix_projection and not inference mode). */
    public boolean hasProjection() {
        return projection;
    }

    /** {@code embedding}. */
    public Embedding embedding() {
        return (Embedding) child("embedding");
    }

    /** Linear {@code i} (0 or 2) of {@code transform}; only with the projection. */
    Linear transform(int i) {
        return (Linear) ((ModuleList) child("transform")).get(i);
    }

    /** The encoder's output for tokens {@code 0..n-1}: float32 [num_virtual_tokens, num_layers*2*token_dim]. */
    Value forward(Graph g) {
        Value table = g.param(embedding().weight());   // embedding(arange(n)) is the whole table
        if (!projection) {
            return table;
        }
        Value h = g.tanh(transform(0).forward(g, table));
        return transform(2).forward(g, h);
    }

    /**
     * What PEFT saves ({@code get_prompt_embedding_to_save}): the encoder's output for tokens {@code 0..n-1}, computed
     * here in double precision and rounded to float32; in inference mode (or without the projection) the table itself.
     */
    Tensor promptEmbeddings() {
        if (!projection) {
            return embedding().weight().data().copy();
        }
        float[] e = embedding().weight().data().toFloatArray();
        float[] h = affine(e, numVirtualTokens, transform(0));
        for (int i = 0; i < h.length; i++) {
            h[i] = (float) Math.tanh(h[i]);
        }
        return Tensor.of(affine(h, numVirtualTokens, transform(2)), numVirtualTokens, outDim);
    }

    /** {@code x W^T + b} for x [rows, in]. */
    private static float[] affine(float[] x, int rows, Linear l) {
        int in = (int) l.inFeatures();
        int out = (int) l.outFeatures();
        float[] w = l.weight().data().toFloatArray();
        float[] b = l.bias().data().toFloatArray();
        float[] y = new float[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int i = 0; i < in; i++) {
                    s += (double) x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = (float) s;
            }
        }
        return y;
    }

    private static Tensor normal(Random rng, long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return Tensor.of(v, rows, cols);
    }

    /** torch's Linear init (kaiming-uniform, a = sqrt(5)): weight and bias U(-1/sqrt(in), 1/sqrt(in)). */
    private static void initLinear(Linear l, Random rng, boolean zero) {
        long in = l.inFeatures();
        long out = l.outFeatures();
        double bound = 1.0 / Math.sqrt(in);
        float[] w = new float[(int) (in * out)];
        float[] b = new float[(int) out];
        if (!zero) {
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
        }
        l.weight().setData(Tensor.of(w, out, in));
        l.bias().setData(Tensor.of(b, out));
    }
}
