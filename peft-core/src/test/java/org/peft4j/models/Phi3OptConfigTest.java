package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.models.phi3.Phi3Config;
import org.peft4j.models.phi3.Phi3ForCausalLM;
import org.peft4j.testutil.Fixtures;

/**
 * Phi-3 and OPT config reading: the old {@code rope_scaling} form of the published Phi-3-mini-128k config (type
 * longrope, top-level original_max_position_embeddings) gives the attention factor transformers computes
 * (sqrt(1 + ln 32 / ln 4096)), the tiny fixture's transformers-5 {@code rope_parameters} form its recorded factor, and
 * Phi3Config.validate_rope's errors.
 */
class Phi3OptConfigTest {
    static ModelConfig phi3(String json) {
        JsonObject o = JsonParser.parseString("{\"model_type\": \"phi3\", \"vocab_size\": 16, \"hidden_size\": 16, "
                + "\"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}").getAsJsonObject();
        JsonParser.parseString(json).getAsJsonObject().entrySet().forEach(e -> o.add(e.getKey(), e.getValue()));
        return new ModelConfig(o, "config.json");
    }

    @Test
    void publishedLongropeConfigGivesTransformersAttentionFactor() throws Exception {
        ModelConfig c = ModelConfig.load(Fixtures.root().resolve("phi3-opt").resolve("configs")
                .resolve("phi-3-mini-128k-instruct.json"));
        Phi3Config p = ((Phi3ForCausalLM) AutoModelForCausalLM.fromConfig(c)).phi3Config();
        assertThat(p.ropeType()).isEqualTo("longrope");
        // 131072 / 4096 = 32, computed by hand from _compute_longrope_parameters
        assertThat(p.attentionScaling()).isCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), within(1e-15));
        assertThat(p.attentionScaling()).isCloseTo(1.1902380714238083, within(1e-12));
        assertThat(p.slidingWindow()).isEqualTo(262144L);
    }

    @Test
    void tinyFixtureFactorIsTheOneTransformersRecorded() throws Exception {
        ModelConfig c = ModelConfig.load(Fixtures.model("phi3").resolve("config.json"));
        Phi3Config p = ((Phi3ForCausalLM) AutoModelForCausalLM.fromConfig(c)).phi3Config();
        double want = Fixtures.json(Fixtures.root().resolve("phi3-opt").resolve("reference").resolve("phi3.json"))
                .get("attention_scaling").getAsDouble();
        assertThat(p.attentionScaling()).isCloseTo(want, within(1e-12));
    }

    @Test
    void suIsReadAsLongropeAndDefaultHasNoScaling() {
        Phi3Config su = new Phi3Config(phi3("{\"max_position_embeddings\": 64, \"original_max_position_embeddings\": 8,"
                + " \"rope_scaling\": {\"type\": \"su\", \"short_factor\": [1, 1, 1, 1], \"long_factor\": [2, 2, 2, 2]}}"));
        assertThat(su.ropeType()).isEqualTo("longrope");
        assertThat(su.attentionScaling()).isCloseTo(Math.sqrt(2), within(1e-15));
        assertThat(new Phi3Config(phi3("{\"rope_scaling\": null}")).attentionScaling()).isEqualTo(1.0);
    }

    @Test
    void invalidRopeGivesPhi3ConfigsErrors() {
        assertThatThrownBy(() -> new Phi3Config(phi3("{\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}}")))
                .hasMessageContaining("`rope_parameters`'s type field must be one of ['longrope'], got linear");
        assertThatThrownBy(() -> new Phi3Config(phi3("{\"rope_scaling\": {\"type\": \"longrope\", "
                + "\"short_factor\": [1, 1, 1], \"long_factor\": [1, 1, 1, 1]}}")))
                .hasMessageContaining("`rope_parameters`'s short_factor field must have length 4, got 3");
        assertThatThrownBy(() -> new Phi3Config(phi3("{\"rope_scaling\": {\"type\": \"longrope\", "
                + "\"short_factor\": [1, 1, 1, 1], \"long_factor\": \"x\"}}")))
                .hasMessageContaining("`rope_parameters`'s long_factor field must be a list of numbers, got \"x\"");
    }

    @Test
    void optHeadsMustDivideHiddenSize() {
        JsonObject o = JsonParser.parseString("{\"model_type\": \"opt\", \"hidden_size\": 30, "
                + "\"num_attention_heads\": 4}").getAsJsonObject();
        assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(new ModelConfig(o, "config.json")))
                .hasMessageContaining("embed_dim must be divisible by num_heads (got `embed_dim`: 30 and "
                        + "`num_heads`: 4).");
    }
}
