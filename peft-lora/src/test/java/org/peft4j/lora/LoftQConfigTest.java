package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.nn.Linear;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.tensor.DType;
import org.peft4j.testutil.Fixtures;

/**
 * {@code loftq_config} in {@link LoraConfig}: read and written as PEFT 0.21.2 does (its adapter_config.json from
 * interop/make_quant_fixtures.py), PEFT's validation, and the initialiser lookup when peft-qlora is absent (it is not
 * a dependency of peft-lora; the algorithm is tested there).
 */
class LoftQConfigTest {
    static JsonObject peftConfig() throws Exception {
        return Fixtures.json(Fixtures.root().resolve("quant").resolve("loftq.json")).getAsJsonObject("adapter_config");
    }

    @Test
    void readsAndWritesPeftsLoftqConfig() throws Exception {
        JsonObject peft = peftConfig();
        LoraConfig c = LoraConfig.fromJson(ConfigJson.parse(peft.toString(), "adapter_config.json"));
        assertThat(c.initLoraWeights()).isEqualTo("loftq");
        assertThat(c.loftqConfig()).isEqualTo(new LoftQConfig(4, 2));
        JsonObject again = JsonParser.parseString(c.toJson()).getAsJsonObject();
        assertThat(again.get("loftq_config")).isEqualTo(peft.get("loftq_config"));
        assertThat(again.get("init_lora_weights")).isEqualTo(peft.get("init_lora_weights"));
        // without LoftQ PEFT writes an empty object
        assertThat(JsonParser.parseString(LoraConfig.builder().targetModules("q_proj").build().toJson())
                .getAsJsonObject().get("loftq_config"))
                .isEqualTo(JsonParser.parseString("{}"));
        assertThat(new LoftQConfig()).isEqualTo(new LoftQConfig(4, 1));
    }

    @Test
    void validatesAsPeft() throws Exception {
        JsonObject o = peftConfig();
        o.add("loftq_config", JsonParser.parseString("{}"));
        assertThatThrownBy(() -> LoraConfig.fromJson(ConfigJson.parse(o.toString(), "cfg.json")))
                .hasMessage("cfg.json: `loftq_config` must be specified when `init_lora_weights` is 'loftq'.");
        // given without init_lora_weights="loftq": ignored (PEFT warns and resets it to {})
        JsonObject p = peftConfig();
        p.addProperty("init_lora_weights", true);
        LoraConfig c = LoraConfig.fromJson(ConfigJson.parse(p.toString(), "cfg.json"));
        assertThat(c.loftqConfig()).isNull();
        assertThat(JsonParser.parseString(c.toJson()).getAsJsonObject().get("loftq_config"))
                .isEqualTo(JsonParser.parseString("{}"));
        JsonObject bad = peftConfig();
        bad.add("loftq_config", JsonParser.parseString("{\"loftq_bits\": \"four\"}"));
        assertThatThrownBy(() -> LoraConfig.fromJson(ConfigJson.parse(bad.toString(), "cfg.json")))
                .hasMessageContaining("loftq_bits");
    }

    @Test
    void loftqWithoutPeftQloraOnTheClassPathIsRefusedClearly() {
        LoraConfig cfg = LoraConfig.builder().targetModules("q_proj").initLoraWeights("loftq")
                .loftqConfig(new LoftQConfig()).build();
        Linear base = new Linear(8, 4, false, DType.F32);
        base.weight().setData(LoraInit.normal(new Random(1), 1, 4, 8));
        LoraLinear layer = new LoraLinear(base);
        assertThat(LoraInit.initializer("loftq")).isNull();
        assertThatThrownBy(() -> layer.updateLayer(LoraAdapterSpec.fromConfig(cfg, "default", "q_proj",
                new Random(0)))).hasMessageContaining("peft-qlora");
    }
}
