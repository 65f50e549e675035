package org.peft4j.prefix;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * PyTorch's {@code nn.LSTM(input, hidden, num_layers, dropout, bidirectional=True, batch_first=True)} with its
 * parameter names ({@code weight_ih_l0}, {@code weight_hh_l0}, {@code bias_ih_l0}, {@code bias_hh_l0}, then the same
 * with {@code _reverse}, per layer; gates in the order i, f, g, o), emitted in standard ONNX ops unrolled over the
 * sequence (the virtual tokens: a few steps). Zero initial states; dropout on every layer's output but the last while
 * training.
 */
final class LstmHead extends Module {
    private final long hidden;
    private final int numLayers;
    private final double dropout;
    private final DType dtype;

    LstmHead(long input, long hidden, int numLayers, double dropout, Random rng, DType dtype) {
        this.dtype = dtype;
        this.hidden = hidden;
        this.numLayers = numLayers;
        this.dropout = dropout;
        double bound = 1.0 / Math.sqrt(hidden);           // PyTorch's LSTM.reset_parameters
        for (int l = 0; l < numLayers; l++) {
            long in = l == 0 ? input : 2 * hidden;
            for (String sfx : new String[] {"", "_reverse"}) {
                registerParameter("weight_ih_l" + l + sfx, uniform(rng, bound, dtype, 4 * hidden, in));
                registerParameter("weight_hh_l" + l + sfx, uniform(rng, bound, dtype, 4 * hidden, hidden));
                registerParameter("bias_ih_l" + l + sfx, uniform(rng, bound, dtype, 4 * hidden));
                registerParameter("bias_hh_l" + l + sfx, uniform(rng, bound, dtype, 4 * hidden));
            }
        }
    }

    static Parameter uniform(Random rng, double bound, DType dtype, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        Parameter p = new Parameter(dtype, shape);
        p.setData(Tensor.of(v, shape).to(dtype));
        return p;
    }

    /** The output {@code [steps, 2 * hidden]} (both directions side by side) of {@code x [steps, in]}. */
    Value forward(Graph g, Value x, int steps) {
        Value h = x;
        for (int l = 0; l < numLayers; l++) {
            if (l > 0 && dropout > 0) {
                h = new Dropout(dropout).forward(g, h);
            }
            Value fwd = direction(g, h, steps, l, "", false);
            Value bwd = direction(g, h, steps, l, "_reverse", true);
            h = g.concat(1, fwd, bwd);
        }
        return h;
    }

    /** One direction of layer {@code l}: {@code [steps, hidden]}, outputs at their own time steps. */
    private Value direction(Graph g, Value x, int steps, int l, String sfx, boolean reverse) {
        Value wih = g.transpose(g.param(parameter("weight_ih_l" + l + sfx)), 1, 0);
        Value whh = g.transpose(g.param(parameter("weight_hh_l" + l + sfx)), 1, 0);
        Value bias = g.add(g.param(parameter("bias_ih_l" + l + sfx)), g.param(parameter("bias_hh_l" + l + sfx)));
        Value pre = g.add(g.matmul(x, wih), bias);                          // [steps, 4H]
        Value h = g.constant(Tensor.zeros(dtype, 1, hidden));
        Value c = g.constant(Tensor.zeros(dtype, 1, hidden));
        List<Value> outs = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
            int t = reverse ? steps - 1 - s : s;
            Value gates = g.add(g.slice(pre, new long[] {t}, new long[] {t + 1}, new long[] {0}),
                    g.matmul(h, whh));                                      // [1, 4H]
            Value i = g.sigmoid(gate(g, gates, 0));
            Value f = g.sigmoid(gate(g, gates, 1));
            Value gg = g.tanh(gate(g, gates, 2));
            Value o = g.sigmoid(gate(g, gates, 3));
            c = g.add(g.mul(f, c), g.mul(i, gg));
            h = g.mul(o, g.tanh(c));
            outs.add(h);
        }
        Value[] ordered = new Value[steps];
        for (int s = 0; s < steps; s++) {
            ordered[reverse ? steps - 1 - s : s] = outs.get(s);
        }
        return g.concat(0, ordered);
    }

    private Value gate(Graph g, Value gates, int k) {
        return g.slice(gates, new long[] {k * hidden}, new long[] {(k + 1) * hidden}, new long[] {1});
    }
}
