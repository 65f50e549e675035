package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import java.nio.file.Path;
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

/**
 * A left-padded batch whose padded row's first real token is labelled: that token is predicted from a pad position
 * whose attention row is fully masked. transformers' eager attention adds its 0 / finfo.min mask, so the row is
 * uniform over all keys and still passes gradient to q and k. Loss, gradients (embeddings, every attention weight)
 * and the logits at every position, pads included, against interop/make_mask_fixtures.py.
 */
class FullyMaskedRowParityTest {

    static Path fixture(String name) {
        return Fixtures.root().resolve("masking").resolve(name + ".safetensors");
    }

    static PreTrainedModel model(String name) throws Exception {
        JsonObject meta = Fixtures.json(Fixtures.root().resolve("masking").resolve("masking.json"));
        String folder = meta.getAsJsonObject("models").getAsJsonObject(name).get("folder").getAsString();
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve(folder));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2", "mistral-swa"})
    void lossAndGradientsMatchTorchWhenAPadPositionPredictsALabel(String name) throws Exception {
        PreTrainedModel m = model(name);
        Graph g = new Graph();
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value loss = CausalLMLoss.build(g, m.forward(g, CausalLMInput.of(ids).attentionMask(mask)).logits(), labels);
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
                SafeTensors ref = SafeTensors.open(fixture(name))) {
            long[] lab = ref.get("labels").toLongArray();
            long[] am = ref.get("attention_mask").toLongArray();
            int seq = (int) ref.get("labels").dim(1);
            int firstReal = 0;
            while (am[seq + firstReal] == 0) {
                firstReal++;
            }
            assertThat(firstReal).isGreaterThan(0);
            assertThat(lab[seq + firstReal]).isNotEqualTo(-100L);   // the case this test is about
            Map<String, Tensor> feed = new LinkedHashMap<>();
            feed.put("input_ids", ref.get("input_ids"));
            feed.put("attention_mask", ref.get("attention_mask"));
            feed.put("labels", ref.get("labels"));
            for (Value p : params.values()) {
                feed.put(p.name(), p.parameter().data());
            }
            Map<String, Tensor> out = rt.compile(g, Parameter::trainable).run(feed);
            assertThat((double) out.get("loss").getFloat(0)).isCloseTo(ref.get("loss").getFloat(0), within(1e-5));
            int compared = 0;
            for (int i = 0; i < names.size(); i++) {
                String key = "grad." + names.get(i);
                if (!ref.keys().contains(key)) {
                    continue;
                }
                float[] got = out.get("grad" + i).toFloatArray();
                float[] want = ref.get(key).toFloatArray();
                double diff = 0;
                double norm = 0;
                for (int k = 0; k < want.length; k++) {
                    diff += (got[k] - (double) want[k]) * (got[k] - (double) want[k]);
                    norm += (double) want[k] * want[k];
                }
                assertThat(norm).as(names.get(i)).isGreaterThan(0);
                assertThat(Math.sqrt(diff / norm)).as(names.get(i)).isLessThan(1e-4);
                compared++;
            }
            assertThat(compared).isEqualTo(ref.keys().stream().filter(k -> k.startsWith("grad.")).count())
                    .isGreaterThanOrEqualTo(1 + 2 * m.numLayers());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2", "mistral-swa"})
    void logitsMatchAtEveryPositionPadsIncluded(String name) throws Exception {
        PreTrainedModel m = model(name);
        try (SafeTensors ref = SafeTensors.open(fixture(name))) {
            Tensor logits = m.logits(ref.get("input_ids"), ref.get("attention_mask"));
            assertThat(logits.shape()).containsExactly(ref.get("logits").shape());
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(1e-4);
        }
    }
}
