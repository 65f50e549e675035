package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * The P-tuning encoders' backward (the unrolled bidirectional LSTM above all) against float64 central finite
 * differences: the encoder built in float64, the loss {@code sum(encoder() * R)} for a fixed random R, every parameter
 * element's gradient from the library's autodiff equal to (L(w + h) - L(w - h)) / 2h within 1e-6 relative.
 */
class PromptEncoderGradientTest {
    static PromptEncoderConfig config(String type, int layers) {
        JsonObject j = new JsonObject();
        j.addProperty("peft_type", "P_TUNING");
        j.addProperty("num_virtual_tokens", 3);
        j.addProperty("token_dim", 5);
        j.addProperty("num_transformer_submodules", 1);
        j.addProperty("encoder_hidden_size", 4);
        j.addProperty("encoder_num_layers", layers);
        j.addProperty("encoder_reparameterization_type", type);
        return PromptEncoderConfig.fromJson(ConfigJson.parse(j.toString(), "test"));
    }

    @ParameterizedTest
    @CsvSource({"LSTM, 2", "LSTM, 1", "MLP, 2"})
    void autodiffGradientsEqualFloat64FiniteDifferences(String type, int layers) throws Exception {
        PromptEncoder enc = new PromptEncoder(config(type, layers), new Random(42), DType.F64);
        Random rnd = new Random(7);
        double[] r = new double[15];
        for (int i = 0; i < r.length; i++) {
            r[i] = rnd.nextGaussian();
        }
        Graph g = new Graph();
        Value out = enc.forward(g);
        Value loss = g.reduceSum(g.mul(out, g.constant(Tensor.of(r, 1, 3, 5))), false, 0, 1, 2);
        Map<String, Parameter> named = enc.namedParameters();
        List<Value> wrt = new ArrayList<>();
        for (Parameter p : named.values()) {
            wrt.add(g.param(p));
        }
        Autodiff.Result res = Autodiff.gradients(g, loss, wrt);
        g.output("loss", loss);
        for (int i = 0; i < wrt.size(); i++) {
            g.output("grad" + i, res.gradient(wrt.get(i)));
        }
        if (type.equals("LSTM")) {
            assertThat(named).containsKeys("lstm_head.weight_ih_l0", "lstm_head.weight_hh_l0_reverse",
                    "mlp_head.0.weight", "mlp_head.2.bias");
        }
        try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> true)) {
            Map<String, Tensor> base = cg.run(feed(g));
            int i = 0;
            int checked = 0;
            for (Map.Entry<String, Parameter> e : named.entrySet()) {
                double[] grad = base.get("grad" + i).toDoubleArray();
                Tensor w = e.getValue().data();
                double[] v = w.toDoubleArray();
                double scale = 0;
                for (double x : grad) {
                    scale = Math.max(scale, Math.abs(x));
                }
                for (int k = 0; k < v.length; k++) {
                    double h = 1e-6;
                    double orig = v[k];
                    v[k] = orig + h;
                    e.getValue().setData(Tensor.of(v, w.shape()));
                    double up = cg.run(feed(g)).get("loss").toDoubleArray()[0];
                    v[k] = orig - h;
                    e.getValue().setData(Tensor.of(v, w.shape()));
                    double down = cg.run(feed(g)).get("loss").toDoubleArray()[0];
                    v[k] = orig;
                    e.getValue().setData(Tensor.of(v, w.shape()));
                    double fd = (up - down) / (2 * h);
                    assertThat(Math.abs(grad[k] - fd)).as("%s[%d]: autodiff %s, finite difference %s", e.getKey(),
                            k, grad[k], fd).isLessThanOrEqualTo(1e-6 * Math.max(scale, 1e-3));
                    checked++;
                }
                i++;
            }
            assertThat(checked).as("every element of every parameter").isGreaterThan(80);
        }
    }

    /** The parameters' current values by their graph input names. */
    static Map<String, Tensor> feed(Graph g) {
        Map<String, Tensor> f = new LinkedHashMap<>();
        for (Value p : g.parameters()) {
            f.put(p.name(), p.parameter().data());
        }
        return f;
    }
}
