package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.testutil.Fixtures;

/**
 * {@link BitsAndBytesConfig} against what transformers 5.23 wrote and decided ({@code interop/fixtures/io}): the
 * {@code quantization_config} of config.json, and which modules became {@code Linear4bit} for given
 * {@code llm_int8_skip_modules} (reference.json {@code skip_modules}).
 */
class BitsAndBytesConfigTest {

    static JsonObject savedQuantizationConfig(String folder) throws Exception {
        return Fixtures.json(IoFixtures.folder(folder).resolve("config.json")).getAsJsonObject("quantization_config");
    }

    @Test
    void toJsonIsWhatTransformersWritesKeysInOrder() throws Exception {
        BitsAndBytesConfig nf4 = BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4")
                .bnb4bitUseDoubleQuant(true).bnb4bitComputeDtype(DType.BF16).build();
        JsonObject want = savedQuantizationConfig("nf4-dq");
        assertThat(JsonParser.parseString(nf4.toJson())).isEqualTo(want);
        assertThat(new ArrayList<>(JsonParser.parseString(nf4.toJson()).getAsJsonObject().keySet()))
                .containsExactlyElementsOf(want.keySet());
        BitsAndBytesConfig fp4 = BitsAndBytesConfig.builder().loadIn4bit(true).build();
        assertThat(JsonParser.parseString(fp4.toJson())).isEqualTo(savedQuantizationConfig("fp4"));
    }

    @Test
    void defaultsAreTransformers() {
        BitsAndBytesConfig c = BitsAndBytesConfig.builder().build();
        assertThat(c.loadIn4bit()).isFalse();
        assertThat(c.bnb4bitQuantType()).isEqualTo(QuantType.FP4);
        assertThat(c.bnb4bitUseDoubleQuant()).isFalse();
        assertThat(c.bnb4bitComputeDtype()).isEqualTo(DType.F32);
        assertThat(c.bnb4bitQuantStorage()).isEqualTo(DType.U8);
        assertThat(c.llmInt8Threshold()).isEqualTo(6.0);
        assertThat(c.llmInt8SkipModules()).isNull();
        assertThat(c.quantizationMethod()).isNull();
        assertThat(c.toBuilder().loadIn4bit(true).build().quantizationMethod()).isEqualTo("fp4");
    }

    @Test
    void fromJsonRoundTripsTheSavedConfigs() throws Exception {
        for (String f : List.of("nf4-dq", "fp4")) {
            JsonObject j = savedQuantizationConfig(f);
            BitsAndBytesConfig c = BitsAndBytesConfig.fromJson(j.toString(), "config.json");
            assertThat(JsonParser.parseString(c.toJson())).isEqualTo(j);
        }
        BitsAndBytesConfig c = BitsAndBytesConfig.fromJson(savedQuantizationConfig("nf4-dq").toString(), "x");
        assertThat(c.bnb4bitQuantType()).isEqualTo(QuantType.NF4);
        assertThat(c.bnb4bitComputeDtype()).isEqualTo(DType.BF16);
        assertThat(c.bnb4bitUseDoubleQuant()).isTrue();
    }

    @Test
    void validationMessages() {
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().loadIn4bit(true).loadIn8bit(true).build())
                .hasMessage("load_in_4bit and load_in_8bit are both True, but only one can be used at the same time");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().loadIn8bit(true).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("load_in_8bit")
                .hasMessageContaining("not supported by peft4j");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().bnb4bitQuantStorage("int4").build())
                .hasMessage("`bnb_4bit_quant_storage` must be a valid string (one of 'float16', 'float32', 'int8', "
                        + "'uint8', 'float64', 'bfloat16') ");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().bnb4bitQuantStorage("bfloat16").build())
                .hasMessageContaining("bnb_4bit_quant_storage 'bfloat16' is not supported by peft4j");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().bnb4bitQuantType("int4").build())
                .hasMessageContaining("bnb_4bit_quant_type must be 'nf4' or 'fp4', got 'int4'");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().bnb4bitComputeDtype("float8").build())
                .hasMessageContaining("bnb_4bit_compute_dtype: module 'torch' has no attribute 'float8'");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().bnb4bitComputeDtype(DType.I8).build())
                .hasMessageContaining("bnb_4bit_compute_dtype must be float32, float16 or bfloat16");
        assertThatThrownBy(() -> BitsAndBytesConfig.builder().llmInt8SkipModules(java.util.Arrays.asList("a", null))
                .build()).hasMessage("llm_int8_skip_modules must be a list of strings");
    }

    @Test
    void fromJsonNamesTheFileAndField() throws Exception {
        JsonObject j = savedQuantizationConfig("nf4-dq");
        j.addProperty("load_in_4bit", "yes");
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson(j.toString(), "/x/config.json"))
                .hasMessageStartingWith("/x/config.json: quantization_config: load_in_4bit must be a boolean");
        JsonObject k = savedQuantizationConfig("nf4-dq");
        k.addProperty("llm_int8_skip_modules", "lm_head");
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson(k.toString(), "c.json"))
                .hasMessageContaining("llm_int8_skip_modules must be a list of strings");
        JsonObject s = savedQuantizationConfig("nf4-dq");
        s.addProperty("bnb_4bit_quant_storage", "bfloat16");
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson(s.toString(), "c.json")).hasMessageContaining("not supported");
        JsonObject e = savedQuantizationConfig("nf4-dq");
        e.addProperty("load_in_4bit", false);
        e.addProperty("load_in_8bit", true);
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson(e.toString(), "c.json")).hasMessageContaining("load_in_8bit");
    }

    /** transformers' replace_with_bnb_linear decisions for three skip lists, and for none (its defaults). */
    @Test
    void modulesReplacedAsTransformersDid() throws Exception {
        JsonObject ref = Fixtures.json(IoFixtures.root().resolve("reference.json"));
        JsonObject skips = ref.getAsJsonObject("skip_modules");
        assertThat(skips.keySet()).hasSize(3);
        for (String key : skips.keySet()) {
            List<String> skip = new ArrayList<>();
            for (JsonElement e : com.google.gson.JsonParser.parseString(key).getAsJsonArray()) {
                skip.add(e.getAsString());
            }
            BitsAndBytesConfig c = BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4")
                    .llmInt8SkipModules(skip).build();
            assertThat(replaced(c)).as(key).containsExactlyElementsOf(strings(skips.getAsJsonArray(key)));
        }
        BitsAndBytesConfig dflt = BitsAndBytesConfig.builder().loadIn4bit(true).build();
        assertThat(replaced(dflt)).containsExactlyElementsOf(strings(ref.getAsJsonObject("cases")
                .getAsJsonObject("fp4").getAsJsonArray("linear4bit")));
    }

    @Test
    void keysToNotConvertCoverTiedWeightsAndTheLastParameter() throws Exception {
        JsonObject cfg = Fixtures.json(IoFixtures.folder("float").resolve("config.json"));
        cfg.addProperty("tie_word_embeddings", true);
        PreTrainedModel tied = AutoModelForCausalLM.fromConfig(ModelConfig.parse(cfg.toString(), "tied"));
        assertThat(BitsAndBytesConfig.keysToNotConvert(tied)).containsExactly("lm_head", "model.embed_tokens",
                "model.norm");
        PreTrainedModel untied = AutoModelForCausalLM.fromConfig(ModelConfig.load(IoFixtures.folder("float")
                .resolve("config.json")));
        assertThat(BitsAndBytesConfig.keysToNotConvert(untied)).containsExactly("lm_head");
    }

    @Test
    void shouldConvertModuleBoundaries() {
        assertThat(BitsAndBytesConfig.shouldConvertModule("layer.11.attn", List.of("layer.1"))).isTrue();
        assertThat(BitsAndBytesConfig.shouldConvertModule("layer.1.attn", List.of("layer.1"))).isFalse();
        assertThat(BitsAndBytesConfig.shouldConvertModule("layer.11.attn", List.of("layer.*"))).isFalse();
        assertThat(BitsAndBytesConfig.shouldConvertModule("a.mlp.gate_proj", List.of("mlp.gate"))).isTrue();
        assertThat(BitsAndBytesConfig.shouldConvertModule("model.decoder.layers.23.fc1", List.of("fc1"))).isFalse();
        assertThat(BitsAndBytesConfig.shouldConvertModule("x", null)).isTrue();
    }

    private static List<String> replaced(BitsAndBytesConfig c) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(IoFixtures.folder("float")
                .resolve("config.json")));
        c.processModelBeforeWeightLoading(m, false);
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) {
            if (e.getValue() instanceof Linear4bit) {
                out.add(e.getKey());
            }
        }
        out.sort(null);
        return out;
    }

    private static List<String> strings(JsonArray a) {
        List<String> out = new ArrayList<>();
        a.forEach(e -> out.add(e.getAsString()));
        return out;
    }
}
