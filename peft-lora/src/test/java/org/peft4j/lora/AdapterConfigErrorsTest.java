package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.ConfigException;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/** The reviewer's examples of bad adapter_config.json values: each gives an IOException naming file and field. */
class AdapterConfigErrorsTest {
    @TempDir
    Path dir;

    private Path write(String field, String value) throws IOException {
        String base = Files.readString(Fixtures.root().resolve("lora/layers-to-transform/adapter/adapter_config.json"));
        Path f = dir.resolve("adapter_config.json");
        Files.writeString(f, field == null ? base : ConfigMutator.replace(base, field, value));
        return f;
    }

    @Test
    void unmutatedFixtureLoads() throws Exception {
        write(null, null);
        LoraConfig c = (LoraConfig) PeftConfigs.fromPretrained(dir);
        assertThat(c.layersToTransform()).isNotEmpty();
    }

    @Test
    void malformedExcludeRegexIsRefusedAtLoad() throws Exception {
        Path f = write("exclude_modules", "\"([\"");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("'exclude_modules'")
                .hasMessageContaining("regular expression").hasCauseInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void peftTypeOfTheWrongJsonTypeNamesTheField() throws Exception {
        Path f = write("peft_type", "[]");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("'peft_type' must be a string, got []");
    }

    @Test
    void rankBeyondTheIntRangeIsRefusedByName() throws Exception {
        Path f = write("r", "1e10");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("'r' must be an integer in [-2147483648, 2147483647], got 1e10");
    }

    @Test
    void layerIndexTwoToTheThirtyTwoDoesNotWrapToLayerZero() throws Exception {
        Path f = write("layers_to_transform", "[4294967296]");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("'layers_to_transform'");
        write("layers_to_transform", "4294967296");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("'layers_to_transform'");
        write("layers_to_transform", "[-1]");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("'layers_to_transform'");
    }

    @Test
    void jsonIsParsedStrictly() throws Exception {
        String base = Files.readString(write(null, null));
        for (String text : new String[] {"// c\n" + base, base + "x", base.replaceFirst("\\{", "{\"r\": 4, "),
            base.replaceFirst("\\{", "{\"k\": NaN, "), base.substring(0, base.length() / 2)}) {
            Files.writeString(dir.resolve("adapter_config.json"), text);
            assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).isInstanceOf(org.peft4j.ConfigException.class)
                    .hasMessageContaining(dir.resolve("adapter_config.json").toString())
                    .hasMessageContaining("malformed JSON");
        }
        Files.writeString(dir.resolve("adapter_config.json"), base.replaceFirst("\\{", "{\"r\": 4, "));
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("duplicate key 'r'");
    }

    @Test
    void nonFiniteAlphaAndBadEnableLoraNameTheField() throws Exception {
        write("lora_alpha", "1e400");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("'lora_alpha' must be a finite");
        write("rank_pattern", "{\"q_proj\": 2.5}");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("'rank_pattern'");
        Path f = write("enable_lora", "{}");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining(f.toString())
                .hasMessageContaining("'enable_lora' must be a list of true or false");
    }
}
