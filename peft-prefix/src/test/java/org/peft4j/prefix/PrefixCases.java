package org.peft4j.prefix;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLM;
import org.peft4j.models.CausalLMInput;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.CausalLMLoss;

/** The PEFT-made fixtures of interop/make_prefix_fixtures.py ({@code interop/fixtures/prefix/<case>/}). */
final class PrefixCases {
    private PrefixCases() {
    }

    static Path dir(String c) {
        return Fixtures.root().resolve("prefix").resolve(c);
    }

    static JsonObject info(String c) throws IOException {
        return Fixtures.json(dir(c).resolve("case.json"));
    }

    /** {@code ||got - want|| / ||want||}. */
    static double relativeL2(float[] got, float[] want) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < got.length; i++) {
            d += (got[i] - (double) want[i]) * (got[i] - (double) want[i]);
            n += (double) want[i] * want[i];
        }
        return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
    }

    /** The loss and gradients of the trainable parameters, in evaluation mode (no dropout). */
    static final class Grads {
        double loss;
        final Map<String, float[]> gradients = new LinkedHashMap<>();
    }

    static Grads gradients(CausalLM m, Tensor ids, Tensor mask, Tensor labels) {
        Graph g = new Graph();
        g.nameParameters(m.namedParameters());
        Value idv = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labv = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value maskv = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value loss = CausalLMLoss.build(g, m.forward(g, CausalLMInput.of(idv).attentionMask(maskv)).logits(), labv);
        loss = m.transformLoss(g, loss);
        Map<String, Value> params = new LinkedHashMap<>();
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", ids);
        feed.put("labels", labels);
        feed.put("attention_mask", mask);
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (e.getValue().trainable()) {
                params.put(e.getKey(), g.param(e.getValue()));
            }
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
        Grads out = new Grads();
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults()); CompiledGraph cg = rt.compile(g, p -> p.trainable())) {
            Map<String, Tensor> r = cg.run(feed);
            out.loss = r.get("loss").getFloat(0);
            for (int i = 0; i < names.size(); i++) {
                out.gradients.put(names.get(i), r.get("grad" + i).toFloatArray());
            }
        }
        return out;
    }

    static long[][] rows(Tensor t) {
        long[] s = t.shape();
        long[] flat = t.toLongArray();
        long[][] out = new long[(int) s[0]][(int) s[1]];
        for (int i = 0; i < s[0]; i++) {
            System.arraycopy(flat, (int) (i * s[1]), out[i], 0, (int) s[1]);
        }
        return out;
    }
}
