package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * The core side of quantization: {@code fromPretrained(dir, quantizationConfig)} lets the config replace layers
 * before the weights load, the replaced layers take their checkpoint entries, the model keeps the config and
 * {@code savePretrained} writes it; a {@code quantization_config} no provider reads is refused by name.
 */
class QuantizationHookTest {

    /** Replaces lm_head by a layer that keeps only the checkpoint weight's sum (a stand-in for a quantized layer). */
    static final class SumQuant implements QuantizationConfig {
        boolean after;
        Boolean pre;

        @Override
        public String quantMethod() {
            return "sum";
        }

        @Override
        public String toJson() {
            return "{\"quant_method\":\"sum\",\"skip\":null}";
        }

        @Override
        public void processModelBeforeWeightLoading(PreTrainedModel model, boolean preQuantized) {
            Linear l = (Linear) model.getSubmodule("lm_head");
            model.setSubmodule("lm_head", new SumLinear(l.inFeatures(), l.outFeatures()));
            pre = preQuantized;
        }

        @Override
        public void processModelAfterWeightLoading(PreTrainedModel model) {
            after = true;
        }
    }

    static final class SumLinear extends Linear {
        double sum = Double.NaN;

        SumLinear(long in, long out) {
            super(in, out, false, DType.F32);
        }

        @Override
        protected Set<String> loadOwnState(String prefix, Map<String, Tensor> entries) {
            Tensor w = entries.get("weight");
            if (w == null) {
                return Set.of();
            }
            sum = 0;
            for (float v : w.toFloatArray()) {
                sum += v;
            }
            weight().setData(Tensor.zeros(DType.F32, w.shape()));
            return Set.of("weight");
        }
    }

    @Test
    void configReplacesLayersBeforeLoadingAndIsSaved(@TempDir Path tmp) throws Exception {
        Path dir = Fixtures.model("llama-mha");
        PreTrainedModel plain = AutoModelForCausalLM.fromPretrained(dir);
        double want = 0;
        for (float v : plain.getParameter("lm_head.weight").data().toFloatArray()) {
            want += v;
        }
        SumQuant q = new SumQuant();
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(dir, q);
        assertThat(m.quantizationConfig()).isSameAs(q);
        assertThat(q.pre).isFalse();
        assertThat(q.after).isTrue();
        assertThat(((SumLinear) m.getSubmodule("lm_head")).sum).isEqualTo(want);
        Parameter embed = m.getParameter("model.embed_tokens.weight");
        assertThat(embed.data().contentEquals(plain.getParameter("model.embed_tokens.weight").data())).isTrue();
        m.savePretrained(tmp);
        JsonObject saved = Fixtures.json(tmp.resolve("config.json"));
        assertThat(saved.get("quantization_config")).isEqualTo(JsonParser.parseString(q.toJson()));
        assertThat(Files.readString(tmp.resolve("config.json"))).contains("\"skip\": null");
        // a model that is not quantized writes config.json as before
        plain.savePretrained(tmp.resolve("plain"));
        assertThat(Fixtures.json(tmp.resolve("plain/config.json")).has("quantization_config")).isFalse();
    }

    @Test
    void unknownQuantMethodIsRefusedNamingTheFile(@TempDir Path tmp) throws Exception {
        Path dir = copyWithQuantizationConfig(tmp, "{\"quant_method\": \"gptq\", \"bits\": 4}");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromPretrained(dir))
                .isInstanceOf(org.peft4j.ConfigException.class)
                .hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining("Unknown quantization type, got gptq - supported types are: []")
                .hasMessageContaining("need peft-qlora on the classpath");
        Path bnb = copyWithQuantizationConfig(tmp.resolve("b"), "{\"load_in_4bit\": true}");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromPretrained(bnb))
                .hasMessageContaining("Unknown quantization type, got bitsandbytes");
        Path none = copyWithQuantizationConfig(tmp.resolve("c"), "{\"bits\": 4}");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromPretrained(none))
                .hasMessageContaining("has no `quant_method` attribute");
    }

    private static Path copyWithQuantizationConfig(Path tmp, String qc) throws Exception {
        Path src = Fixtures.model("llama-mha");
        Files.createDirectories(tmp);
        JsonObject cfg = Fixtures.json(src.resolve("config.json"));
        cfg.add("quantization_config", com.google.gson.JsonParser.parseString(qc));
        Files.writeString(tmp.resolve("config.json"), cfg.toString());
        Files.copy(src.resolve("model.safetensors"), tmp.resolve("model.safetensors"));
        return tmp;
    }
}
