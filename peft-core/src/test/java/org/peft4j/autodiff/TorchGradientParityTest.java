package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.CausalLMLoss;

/** Full fine-tuning gradients (every parameter) against torch autograd (interop/make_grad_fixtures.py). */
class TorchGradientParityTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "gpt2"})
    void fullFineTuningGradientsMatchTorch(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        Graph g = new Graph();
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value loss = CausalLMLoss.build(g, m.forward(g, CausalLMInput.of(ids)).logits(), labels);
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
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults());
                SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("reference").resolve(name
                        + "-grads.safetensors"))) {
            Map<String, Tensor> feed = new LinkedHashMap<>();
            feed.put("input_ids", ref.get("input_ids"));
            feed.put("labels", ref.get("labels"));
            for (Value p : params.values()) {
                feed.put(p.name(), p.parameter().data());
            }
            Map<String, Tensor> out = rt.compile(g, Parameter::trainable).run(feed);
            assertThat((double) out.get("loss").getFloat(0)).isCloseTo(ref.get("loss").getFloat(0),
                    org.assertj.core.api.Assertions.within(1e-5));
            assertThat(names).hasSize(ref.keys().size() - 3);
            for (int i = 0; i < names.size(); i++) {
                float[] got = out.get("grad" + i).toFloatArray();
                float[] want = ref.get("grad." + names.get(i)).toFloatArray();
                double diff = 0;
                double norm = 0;
                for (int k = 0; k < want.length; k++) {
                    diff += (got[k] - (double) want[k]) * (got[k] - (double) want[k]);
                    norm += (double) want[k] * want[k];
                }
                assertThat(Math.sqrt(diff / Math.max(norm, 1e-30))).as(names.get(i)).isLessThan(1e-4);
            }
        }
    }
}
