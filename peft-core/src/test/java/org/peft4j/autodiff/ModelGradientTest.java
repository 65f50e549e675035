package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.CausalLMLoss;

/** Whole-model gradients of the causal-LM loss (float64) against finite differences on sampled elements. */
class ModelGradientTest {

    @ParameterizedTest
    @CsvSource({
        "llama-gqa, model.embed_tokens.weight;model.layers.0.self_attn.q_proj.weight;model.layers.0.self_attn.k_proj.bias;model.layers.1.mlp.down_proj.weight;model.norm.weight",
        "gpt2, transformer.wte.weight;transformer.wpe.weight;transformer.h.0.attn.c_attn.weight;transformer.h.1.ln_2.bias;transformer.h.1.mlp.c_fc.weight"
    })
    void lossGradientsMatchFiniteDifferences(String name, String params) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name), DType.F64);
        m.requiresGrad(false);
        List<String> names = List.of(params.split(";"));
        for (String n : names) {
            m.getParameter(n).setTrainable(true);
        }
        Graph g = new Graph();
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value loss = CausalLMLoss.build(g, m.forward(g, CausalLMInput.of(ids)).logits(), labels);
        List<Value> wrt = new ArrayList<>();
        for (String n : names) {
            wrt.add(g.param(m.getParameter(n)));
        }
        Autodiff.Result res = Autodiff.gradients(g, loss, wrt);
        g.output("loss", loss);
        for (int i = 0; i < wrt.size(); i++) {
            g.output("grad" + i, res.gradient(wrt.get(i)));
        }
        long[] idv = {5, 17, 3, 99, 42, 7, 1, 64, 8, 11, 23, 2};
        long[] lab = {-100, -100, 3, 99, 42, 7, -100, -100, 8, 11, 23, 2};
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            CompiledGraph cg = rt.compile(g, Parameter::trainable);
            Map<String, Tensor> feed = new LinkedHashMap<>();
            feed.put("input_ids", Tensor.of(idv, 2, 6));
            feed.put("labels", Tensor.of(lab, 2, 6));
            for (Value w : wrt) {
                feed.put(w.name(), w.parameter().data());
            }
            Map<String, Tensor> out = cg.run(feed);
            Random rnd = new Random(1);
            double h = 1e-6;
            for (int i = 0; i < wrt.size(); i++) {
                Value w = wrt.get(i);
                double[] base = w.parameter().data().toDoubleArray();
                double[] grad = out.get("grad" + i).toDoubleArray();
                List<Integer> picks = new ArrayList<>();
                for (int k = 0; k < 4; k++) {
                    picks.add(rnd.nextInt(base.length));
                }
                int argmax = 0;
                for (int k = 1; k < grad.length; k++) {
                    if (Math.abs(grad[k]) > Math.abs(grad[argmax])) {
                        argmax = k;
                    }
                }
                picks.add(argmax);
                for (int e : picks) {
                    double[] plus = base.clone();
                    double[] minus = base.clone();
                    plus[e] += h;
                    minus[e] -= h;
                    feed.put(w.name(), Tensor.of(plus, w.parameter().shape()));
                    double lp = cg.run(feed).get("loss").getDouble(0);
                    feed.put(w.name(), Tensor.of(minus, w.parameter().shape()));
                    double lm = cg.run(feed).get("loss").getDouble(0);
                    feed.put(w.name(), w.parameter().data());
                    double numeric = (lp - lm) / (2 * h);
                    assertThat(Math.abs(numeric - grad[e]) / Math.max(1e-3, Math.abs(numeric)))
                            .as("%s[%d]: analytic %s numeric %s", w.name(), e, grad[e], numeric).isLessThan(1e-5);
                }
                assertThat(Math.abs(grad[argmax])).as(w.name() + " has a non-zero gradient").isGreaterThan(1e-6);
            }
        }
    }
}
