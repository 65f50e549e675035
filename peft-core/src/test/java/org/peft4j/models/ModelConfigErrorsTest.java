package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.ConfigException;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/** Bad config.json values are refused by name: no silent wrap or saturation, strict JSON. */
class ModelConfigErrorsTest {
    @TempDir
    Path dir;

    private Path write(String field, String value) throws IOException {
        String base = Files.readString(Fixtures.model("llama-mha").resolve("config.json"));
        Path f = dir.resolve("config.json");
        Files.writeString(f, field == null ? base : ConfigMutator.replace(base, field, value));
        return f;
    }

    @Test
    void layerCountOf1e400IsRefusedNotReadAsZero() throws Exception {
        Path f = write(null, null);
        assertThat(AutoModelForCausalLM.fromConfig(ModelConfig.load(f)).namedModules())
                .containsKey("model.layers.1.self_attn.q_proj");
        write("num_hidden_layers", "1e400");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(ModelConfig.load(f)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(f.toString())
                .hasMessageContaining("field 'num_hidden_layers' should be an integer in [0, 2147483647], got 1e400");
        // fromPretrained reports it as a ConfigException naming the file and field, before reading any weight
        assertThatThrownBy(() -> AutoModelForCausalLM.fromPretrained(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("'num_hidden_layers'")
                .satisfies(e -> {
                    assertThat(((ConfigException) e).file()).isEqualTo(f);
                    assertThat(((ConfigException) e).field()).isEqualTo("num_hidden_layers");
                });
    }

    @Test
    void sizesOutOfRangeAreRefusedByName() throws Exception {
        for (String[] fv : new String[][] {{"num_attention_heads", "4294967296"}, {"num_key_value_heads", "0"},
            {"hidden_size", "-1"}, {"vocab_size", "1.5"}, {"rms_norm_eps", "1e400"},
            {"rope_parameters.rope_theta", "\"x\""}, {"hidden_act", "\"x\""}}) {
            Path f = write(fv[0], fv[1]);
            String leaf = fv[0].substring(fv[0].lastIndexOf('.') + 1);
            assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(ModelConfig.load(f))).as(fv[0])
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(f.toString())
                    .hasMessageContaining(leaf);
        }
    }

    @Test
    void jsonIsParsedStrictly() throws Exception {
        String base = Files.readString(write(null, null));
        Path f = dir.resolve("config.json");
        for (String text : new String[] {"// c\n" + base, base + "x", base.replaceFirst("\\{", "{'a': 1, "),
            base.replaceFirst("\\{", "{\"vocab_size\": 7, "), base.substring(0, 20), ""}) {
            Files.writeString(f, text);
            assertThatThrownBy(() -> ModelConfig.load(f)).isInstanceOf(org.peft4j.ConfigException.class)
                    .hasMessageContaining(f.toString());
        }
        Files.writeString(f, base.replaceFirst("\\{", "{\"vocab_size\": 7, "));
        assertThatThrownBy(() -> ModelConfig.load(f)).hasMessageContaining("duplicate key 'vocab_size'");
        assertThatThrownBy(() -> ModelConfig.parse("[1]")).isInstanceOf(org.peft4j.ConfigException.class)
                .hasMessageContaining("expected a JSON object");
    }
}
