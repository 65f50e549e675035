package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.testutil.Fixtures;

/**
 * Prompt tuning's initialisation: TEXT with {@code tokenizer_kwargs} gives the ids transformers' AutoTokenizer gives
 * with them, as PEFT calls it ({@code interop/make_prompt_init_fixtures.py}, {@code fixtures/prompt-init}); fields
 * peft4j cannot honour are refused by name; RANDOM is reproducible from the tuner's seed and N(0, 1) distributed
 * (torch's {@code nn.Embedding} default; the values themselves differ from torch's).
 */
class PromptInitTest {
    static final int N = 6;

    static PromptTuningConfig text(String text, Path tokenizer, JsonObject kwargs) {
        return new PromptTuningConfig(N).taskType(TaskType.CAUSAL_LM).initText(text, tokenizer.toString())
                .tokenizerKwargs(org.peft4j.internal.PlainJson.toPlainMap(kwargs));
    }

    @Test
    void textInitTokenizerKwargsGiveTransformersIds() throws Exception {
        JsonObject doc = Fixtures.json(Fixtures.root().resolve("prompt-init").resolve("cases.json"));
        int changed = 0;
        for (JsonElement e : doc.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            Path tok = Fixtures.root().resolve(c.get("tokenizer").getAsString());
            JsonObject kw = c.getAsJsonObject("kwargs");
            long[] want = c.getAsJsonArray("prompt_ids").asList().stream().mapToLong(JsonElement::getAsLong)
                    .toArray();
            long[] got = PromptTuningTuner.textIds(text(c.get("text").getAsString(), tok, kw), N);
            assertThat(got).as("%s %s '%s'", c.get("tokenizer"), kw, c.get("text")).containsExactly(want);
            if (kw.has("add_prefix_space") && kw.get("add_prefix_space").getAsBoolean()
                    && c.get("tokenizer").getAsString().contains("gpt2")) {
                changed++;
                // the kwarg matters here: without it the ids differ
                assertThat(PromptTuningTuner.textIds(text(c.get("text").getAsString(), tok, null), N))
                        .isNotEqualTo(want);
            }
        }
        assertThat(changed).isEqualTo(2);
    }

    @Test
    void tokenizerKwargsPeftCannotHonourAreRefusedByName(@TempDir Path tmp) throws Exception {
        Path tok = Fixtures.root().resolve("tokenizer");
        JsonObject pad = new JsonObject();
        pad.addProperty("padding_side", "left");
        assertThatThrownBy(() -> PromptTuningTuner.textIds(text("abc", tok, pad), N))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("tokenizer_kwargs: field 'padding_side' is not supported");
        // ... also when the adapter is created
        assertThatThrownBy(() -> Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2")),
                text("abc", tok, pad))).hasMessageContaining("'padding_side'");
        JsonObject wrong = new JsonObject();
        wrong.addProperty("add_prefix_space", "yes");
        assertThatThrownBy(() -> PromptTuningTuner.textIds(text("abc", tok, wrong), N))
                .hasMessage("tokenizer_kwargs: field 'add_prefix_space' must be true or false, got \"yes\"");
        // add_prefix_space on a class whose behaviour peft4j does not know
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        Files.copy(tok.resolve("tokenizer.json"), other.resolve("tokenizer.json"));
        Files.writeString(other.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"LlamaTokenizer\"}");
        JsonObject aps = new JsonObject();
        aps.addProperty("add_prefix_space", true);
        assertThatThrownBy(() -> PromptTuningTuner.textIds(text("abc", other, aps), N))
                .hasMessageContaining("'add_prefix_space'").hasMessageContaining("LlamaTokenizer");
        // subfolder is honoured
        JsonObject sub = new JsonObject();
        sub.addProperty("subfolder", "other");
        assertThat(PromptTuningTuner.textIds(text("abc", tmp, sub), N))
                .containsExactly(PromptTuningTuner.textIds(text("abc", tok, null), N));
        // PEFT's own check: tokenizer_kwargs only with TEXT
        assertThatThrownBy(() -> new PromptTuningConfig(N).tokenizerKwargs(java.util.Map.of("add_prefix_space", true)))
                .hasMessage("tokenizer_kwargs only valid when using prompt_tuning_init='TEXT'.");
    }

    static float[] weights(PeftModel pm, String adapter) {
        return pm.namedParameters().get("prompt_encoder." + adapter + ".embedding.weight").data().toFloatArray();
    }

    @Test
    void randomInitIsSeededAndStandardNormal() throws Exception {
        PromptTuningConfig cfg = new PromptTuningConfig(400).taskType(TaskType.CAUSAL_LM);
        PeftModel a = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa")), cfg);
        PeftModel b = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa")),
                new PromptTuningConfig(400).taskType(TaskType.CAUSAL_LM));
        float[] w = weights(a, "default");
        assertThat(weights(b, "default")).as("reproducible without a seed call").containsExactly(w);
        // torch's nn.Embedding default N(0, 1): n = 400 * 96 values, so mean within 4 / sqrt(n) = 0.02
        double mean = 0;
        for (float x : w) {
            mean += x;
        }
        mean /= w.length;
        double var = 0;
        double fourth = 0;
        for (float x : w) {
            var += (x - mean) * (x - mean);
            fourth += Math.pow(x - mean, 4);
        }
        var /= w.length;
        fourth /= w.length;
        assertThat(w.length).isGreaterThanOrEqualTo(400 * 32);
        assertThat(Math.abs(mean)).isLessThan(4 / Math.sqrt(w.length));
        assertThat(Math.abs(Math.sqrt(var) - 1)).isLessThan(0.03);
        assertThat(fourth / (var * var)).as("kurtosis of a normal").isBetween(2.8, 3.2);
        // seeded: an adapter added after seed(7) is the same on another model seeded alike, and not the first one
        a.tuner(PromptTuningTuner.class).seed(7);
        a.addAdapter("seven", new PromptTuningConfig(400).taskType(TaskType.CAUSAL_LM));
        b.tuner(PromptTuningTuner.class).seed(7);
        b.addAdapter("seven", new PromptTuningConfig(400).taskType(TaskType.CAUSAL_LM));
        assertThat(weights(a, "seven")).containsExactly(weights(b, "seven")).isNotEqualTo(w);
    }
}
