package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.peft4j.models.QuantizationConfig;

/**
 * Issue 15: the quantization SPI takes and gives JSON text: the provider reads a {@code quantization_config} as
 * written in config.json, and {@code toJson()} is what transformers writes (the saved fixtures' object).
 */
class BitsAndBytesConfigTextTest {
    @Test
    void theProviderReadsTheTextOfQuantizationConfig() throws Exception {
        String saved = BitsAndBytesConfigTest.savedQuantizationConfig("nf4-dq").toString();
        QuantizationConfig q = new BitsAndBytesConfig.Provider().fromJson(saved, "config.json");
        assertThat(q).isInstanceOf(BitsAndBytesConfig.class);
        assertThat(((BitsAndBytesConfig) q).bnb4bitQuantType()).isEqualTo(QuantType.NF4);
        assertThat(JsonParser.parseString(q.toJson())).isEqualTo(JsonParser.parseString(saved));
        // an integer threshold is read as transformers' float and written as one
        BitsAndBytesConfig t = BitsAndBytesConfig.fromJson("{\"load_in_4bit\": true, \"llm_int8_threshold\": 5}",
                "c.json");
        assertThat(t.llmInt8Threshold()).isEqualTo(5.0);
        assertThat(t.toJson()).contains("\"llm_int8_threshold\":5.0");
    }

    @Test
    void aBadValueInAFileIsAConfigExceptionNamingTheField() {
        // transformers' texts, with the file and the field; the builder keeps IllegalArgumentException
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson("{\"load_in_4bit\": 1}", "/m/config.json"))
                .isInstanceOf(org.peft4j.ConfigException.class)
                .satisfies(e -> assertThat(((org.peft4j.ConfigException) e).field())
                        .isEqualTo("quantization_config.load_in_4bit"))
                .satisfies(e -> assertThat(((org.peft4j.ConfigException) e).file()).isEqualTo(Path.of("/m/config.json")));
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson(
                "{\"load_in_4bit\": true, \"bnb_4bit_quant_storage\": \"int4\"}", "/m/config.json"))
                .isInstanceOf(org.peft4j.ConfigException.class)
                .hasMessage("/m/config.json: quantization_config: `bnb_4bit_quant_storage` must be a valid string (one "
                        + "of 'float16', 'float32', 'int8', 'uint8', 'float64', 'bfloat16') ")
                .satisfies(e -> assertThat(((org.peft4j.ConfigException) e).field())
                        .isEqualTo("quantization_config.bnb_4bit_quant_storage"));
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson(
                "{\"load_in_4bit\": true, \"load_in_8bit\": true}", "<string>"))
                .isInstanceOf(org.peft4j.ConfigException.class)
                .hasMessage("<string>: quantization_config: load_in_4bit and load_in_8bit are both True, but only one "
                        + "can be used at the same time")
                .satisfies(e -> assertThat(((org.peft4j.ConfigException) e).file()).isNull());
    }

    @Test
    void malformedTextNamesTheSource() {
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson("{\"load_in_4bit\": true,}", "/m/config.json"))
                .isInstanceOf(org.peft4j.ConfigException.class)
                .hasMessageStartingWith("/m/config.json: malformed JSON")
                .hasMessageContaining("line 1 column")
                .satisfies(e -> assertThat(((org.peft4j.ConfigException) e).file()).isEqualTo(Path.of("/m/config.json")));
        assertThatThrownBy(() -> BitsAndBytesConfig.fromJson("{\"load_in_4bit\": 1}", "/m/config.json"))
                .hasMessage("/m/config.json: quantization_config: load_in_4bit must be a boolean, got 1");
    }
}
