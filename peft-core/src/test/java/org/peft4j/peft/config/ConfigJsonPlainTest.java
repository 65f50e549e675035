package org.peft4j.peft.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 15: ConfigJson's Gson-free surface. Expected values are the JSON text's, written out by hand; messages are
 * the ones the typed getters give (source, field, what was expected, the value as written).
 */
class ConfigJsonPlainTest {
    static final String TEXT = "{\"peft_type\": \"LORA\", \"r\": 8, \"alpha\": 1e-06, \"names\": [\"q\", \"v\"], "
            + "\"sub\": {\"bits\": 4, \"iter\": 2}, \"flag\": null, \"bad\": [1]}";

    @Test
    void valuesArePlainJavaAndMarkedRead() {
        ConfigJson j = ConfigJson.parse(TEXT, "a.json");
        assertThat(j.source()).isEqualTo("a.json");
        assertThat(j.keys()).containsExactly("peft_type", "r", "alpha", "names", "sub", "flag", "bad");
        assertThat(j.unread()).containsExactly("alpha", "bad", "flag", "names", "peft_type", "r", "sub");
        assertThat(j.value("r")).isEqualTo(8);
        assertThat(j.value("alpha")).isEqualTo(1e-6);
        assertThat(j.value("names")).isEqualTo(List.of("q", "v"));
        assertThat(j.value("flag")).isNull();
        assertThat(j.value("missing")).isNull();
        assertThat(j.unread()).containsExactly("bad", "peft_type", "sub");
        assertThat(j.toJson()).isEqualTo("{\"peft_type\":\"LORA\",\"r\":8,\"alpha\":1e-06,\"names\":[\"q\",\"v\"],"
                + "\"sub\":{\"bits\":4,\"iter\":2},\"flag\":null,\"bad\":[1]}");
    }

    @Test
    void nestedObjectsAreViewsNamedAfterTheirField() {
        ConfigJson j = ConfigJson.parse(TEXT, "a.json");
        ConfigJson sub = j.object("sub", "an object");
        assertThat(j.unread()).doesNotContain("sub");
        assertThat(sub.source()).isEqualTo("a.json (sub)");
        assertThat(sub.integer("bits", 0)).isEqualTo(4);
        assertThat(sub.keys()).containsExactly("bits", "iter");
        assertThat(j.object("flag", "an object")).isNull();
        assertThatThrownBy(() -> j.object("bad", "an object with bits"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a.json: field 'bad' must be an object with bits, got [1]");
        assertThatThrownBy(() -> sub.integer("iter", 0, 3, 9))
                .hasMessage("a.json (sub): field 'iter' must be an integer in [3, 9], got 2");
    }

    @Test
    void plainMapsReadAsTheFileWould() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("peft_type", PeftType.LORA);
        m.put("r", 8L);
        m.put("names", List.of("q", "v"));
        m.put("big", 4294967296L);
        ConfigJson j = ConfigJson.fromMap(m, "kwargs");
        assertThat(j.string("peft_type", null)).isEqualTo("LORA");
        assertThat(j.integer("r", 0)).isEqualTo(8);
        assertThat(j.strings("names")).containsExactly("q", "v");
        assertThatThrownBy(() -> j.integer("big", 0))
                .hasMessage("kwargs: field 'big' must be an integer in [-2147483648, 2147483647], got 4294967296");
        assertThat(PeftConfig.peftTypeOf(j)).isEqualTo(PeftType.LORA);
    }

    @Test
    void malformedTextIsRefusedNamingTheSource() {
        assertThatThrownBy(() -> ConfigJson.parse("{\"r\": 1, \"r\": 2}", "dup.json"))
                .isInstanceOf(org.peft4j.ConfigException.class)
                .satisfies(e -> assertThat(((org.peft4j.ConfigException) e).field()).isEqualTo("r"))
                .hasMessageStartingWith("dup.json: malformed JSON: duplicate key 'r'");
        assertThatThrownBy(() -> ConfigJson.parse("[1]", "arr.json"))
                .hasMessage("arr.json: expected a JSON object, got [1]");
    }

    @Test
    void peftTypeOfNamesTheSource() {
        assertThatThrownBy(() -> PeftConfig.peftTypeOf(ConfigJson.parse("{\"r\": 8}", "x.json")))
                .hasMessage("x.json: The config that is trying to be loaded is missing required keys: {'peft_type'}.");
        assertThatThrownBy(() -> PeftConfig.peftTypeOf(ConfigJson.parse("{\"peft_type\": 3}", "x.json")))
                .hasMessage("x.json: field 'peft_type' must be a string, got 3");
        ConfigJson j = ConfigJson.parse("{\"peft_type\": \"LORA\"}", "x.json");
        PeftConfig.peftTypeOf(j);
        assertThat(j.unread()).containsExactly("peft_type");
    }
}
