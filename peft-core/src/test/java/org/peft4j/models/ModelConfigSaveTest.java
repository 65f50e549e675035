package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/** {@code savePretrained} writes config.json as transformers wrote it: every field, nulls included. */
class ModelConfigSaveTest {
    @Test
    void savedConfigKeepsEveryFieldOfTransformersConfigIncludingNulls(@TempDir Path out) throws Exception {
        Path src = Fixtures.model("llama-mha");
        AutoModelForCausalLM.fromPretrained(src).savePretrained(out);
        JsonObject want = JsonParser.parseString(Files.readString(src.resolve("config.json"))).getAsJsonObject();
        JsonObject got = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject();
        assertThat(want.get("pad_token_id").isJsonNull()).as("the fixture has a null field").isTrue();
        assertThat(got).isEqualTo(want);
        assertThat(Files.readString(out.resolve("config.json"))).contains("\"pad_token_id\": null");
    }
}
