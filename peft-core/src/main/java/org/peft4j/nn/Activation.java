package org.peft4j.nn;

import java.util.Locale;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;

/** An activation function module (transformers' {@code ACT2FN}): silu, gelu_new / gelu_pytorch_tanh, gelu, relu. */
public class Activation extends Layer {
    private final String name;

    /**
     * @throws IllegalArgumentException for an activation peft4j does not implement
     */
    public Activation(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        switch (n) {
            case "silu": case "swish": case "gelu_new": case "gelu_pytorch_tanh": case "gelu_fast": case "gelu":
            case "relu":
                break;
            default:
                throw new IllegalArgumentException("activation function " + name + " not supported, expected one of "
                        + "silu, gelu_new, gelu_pytorch_tanh, gelu, relu");
        }
        this.name = n;
    }

    /**
     * transformers' name of the function ({@code hidden_act}).
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    @Override
    public String typeName() {
        switch (name) {
            case "silu": case "swish": return "SiLU";
            case "gelu_new": return "NewGELUActivation";
            case "gelu_pytorch_tanh": return "PytorchGELUTanh";
            case "gelu_fast": return "FastGELUActivation";
            case "gelu": return "GELUActivation";
            default: return "ReLU";
        }
    }

    @Override
    public Value forward(Graph g, Value x) {
        switch (name) {
            case "silu": case "swish": return Functional.silu(g, x);
            case "gelu_new": case "gelu_pytorch_tanh": case "gelu_fast": return Functional.geluTanh(g, x);
            case "gelu": return Functional.geluErf(g, x);
            default: return g.node("Relu", "", java.util.List.of(x), java.util.List.of(x.dtype()),
                    java.util.List.of(x.shape()), java.util.Map.of()).output(0);
        }
    }
}
