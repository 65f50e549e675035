package org.peft4j.testutil;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.CausalLMLoss;

/**
 * The causal-LM loss of a batch and its gradient with respect to every parameter of a model, in evaluation mode (no
 * dropout), for comparisons with torch autograd. (A {@code TrainStep} would train with the model's dropout.)
 */
public final class FullGradients {
    /** The loss and the gradients by parameter name. */
    public final double loss;
    public final Map<String, float[]> gradients;

    private FullGradients(double loss, Map<String, float[]> gradients) {
        this.loss = loss;
        this.gradients = gradients;
    }

    /**
     * Runs forward, loss and backward once on a fresh runtime.
     *
     * @param mask int64 [batch, seq] or null (no attention mask input)
     */
    public static FullGradients of(PreTrainedModel m, Tensor ids, Tensor mask, Tensor labels) {
        Graph g = new Graph();
        Value idv = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labv = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        CausalLMInput in = CausalLMInput.of(idv);
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", ids);
        feed.put("labels", labels);
        if (mask != null) {
            in.attentionMask(g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq")));
            feed.put("attention_mask", mask);
        }
        Value loss = CausalLMLoss.build(g, m.forward(g, in).logits(), labv);
        Map<String, Value> params = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            params.put(e.getKey(), g.param(e.getValue()));
        }
        Autodiff.Result res = Autodiff.gradients(g, loss, new ArrayList<>(params.values()));
        g.output("loss", loss);
        List<String> names = new ArrayList<>(params.keySet());
        for (int i = 0; i < names.size(); i++) {
            g.output("grad" + i, res.gradient(params.get(names.get(i))));
        }
        for (Value p : params.values()) {
            feed.put(p.name(), p.parameter().data());
        }
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults());
                CompiledGraph cg = rt.compile(g, p -> true)) {
            Map<String, Tensor> out = cg.run(feed);
            Map<String, float[]> grads = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                grads.put(names.get(i), out.get("grad" + i).toFloatArray());
            }
            return new FullGradients(out.get("loss").getFloat(0), grads);
        }
    }

    /** {@code ||got - want|| / ||want||} (the denominator floored at 1e-30). */
    public static double relativeL2(float[] got, float[] want) {
        double diff = 0;
        double norm = 0;
        for (int k = 0; k < want.length; k++) {
            diff += (got[k] - (double) want[k]) * (got[k] - (double) want[k]);
            norm += (double) want[k] * want[k];
        }
        return Math.sqrt(diff / Math.max(norm, 1e-30));
    }
}
